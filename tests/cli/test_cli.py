"""The CLI as users see it: exact messages, exit codes, no traceback, no stray output files."""
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from converter.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_help_and_version_do_not_import_tensorflow():
    code = ("import sys; from converter.cli import cli\n"
            "try: cli.main(['--help'], standalone_mode=False)\n"
            "except SystemExit: pass\n"
            "assert 'tensorflow' not in sys.modules and 'tf_keras' not in sys.modules, 'TF imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Commands:" in out.stdout and "convert" in out.stdout
    assert run("--version").output.startswith("edgeconv, version ")


def test_every_command_has_help_with_an_example():
    from converter.cli.main import COMMANDS

    for name in COMMANDS:
        result = run(name, "--help")
        assert result.exit_code == 0 and "Example:" in result.output, name
    for sub in ("list", "show"):
        assert "Example:" in run("recipes", sub, "--help").output


def test_convert_writes_a_verified_model(chain, tmp_path):
    out = tmp_path / "m.tflite"
    result = run("convert", chain.keras_path, "--data", chain.train_npz, "--samples", 40, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["sections"]["conversion"]["fully_integer"] is True
    assert doc["sections"]["conversion"]["calibration_samples"] == 40
    assert out.read_bytes()[4:8] == b"TFL3"


def test_convert_missing_model(tmp_path, chain):
    result = run("convert", tmp_path / "nope.keras", "--data", chain.train_npz, "-o", tmp_path / "o.tflite")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"Error: model {tmp_path / 'nope.keras'} does not exist"
    assert "Traceback" not in result.output and not (tmp_path / "o.tflite").exists()


def test_convert_non_model_file(tmp_path, chain):
    result = run("convert", chain.invalid, "--data", chain.train_npz, "-o", tmp_path / "o.tflite")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"Error: {chain.invalid} is not a Keras model (unrecognised content)"
    assert not (tmp_path / "o.tflite").exists()


def test_convert_tflite_given_as_model(tmp_path, chain):
    result = run("convert", chain.int8_tflite, "--data", chain.train_npz, "-o", tmp_path / "o.tflite")
    assert result.exit_code == 3 and "is a TFLite model, not a Keras model" in result.stderr


def test_convert_data_of_wrong_shape(tmp_path, chain):
    np.savez(tmp_path / "mnist.npz", x=np.zeros((10, 28, 28), np.float32))
    result = run("convert", chain.keras_path, "--data", tmp_path / "mnist.npz", "-o", tmp_path / "o.tflite")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == \
        "Error: data samples have shape (28, 28) but the model expects (8, 8, 1)"
    assert "Traceback" not in result.output and not (tmp_path / "o.tflite").exists()


def test_convert_nan_data(tmp_path, chain):
    x = np.zeros((10, 8, 8, 1), np.float32)
    x[4, 0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", x)
    result = run("convert", chain.keras_path, "--data", tmp_path / "nan.npy", "-o", tmp_path / "o.tflite")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"Error: {tmp_path / 'nan.npy'}: 1 sample(s) contain NaN or Inf"


def test_convert_refuses_to_overwrite(tmp_path, chain):
    out = tmp_path / "o.tflite"
    out.write_bytes(b"precious")
    result = run("convert", chain.keras_path, "--data", chain.train_npz, "-o", out)
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [f"Error: output {out} already exists",
                                          "Hint: pass --force to overwrite it, or choose another path"]
    assert out.read_bytes() == b"precious"


def test_convert_usage_errors_exit_2(chain, tmp_path):
    assert run("convert", chain.keras_path, "-o", tmp_path / "o.tflite").exit_code == 2  # no --data
    assert run("convert", chain.keras_path, "--data", chain.train_npz, "-o", tmp_path / "o", "--mode", "int4").exit_code == 2


def test_validate_int8_against_keras_and_float_tflite(chain, tmp_path):
    result = run("validate", chain.int8_tflite, "--reference", chain.keras_path, "--data", chain.test_npz,
                 "--max-accuracy-drop", 5, "-o", tmp_path / "rep", "--json")
    assert result.exit_code == 0, result.output
    v = json.loads(result.stdout)["sections"]["validation"]
    assert v["samples"] == 360 and v["agreement"] > 0.9
    assert abs(v["reference_accuracy"] - v["candidate_accuracy"]) < 0.05
    assert json.loads((tmp_path / "rep" / "report.json").read_text()) == json.loads(result.stdout)
    result = run("validate", chain.int8_tflite, "--reference", chain.float_tflite, "--data", chain.test_npz,
                 "--kernels", "reference")
    assert result.exit_code == 0, result.output
    assert "│ same top-1 class as float " in result.stdout


@pytest.fixture(scope="module")
def disagreeing(chain, tmp_path_factory):
    """Noise images on which the int8 model's top-1 differs from the float model's, labelled
    with the float model's answer: reference accuracy 100%, candidate 0%, by construction."""
    from converter.targets.host import HostRuntime

    x = np.random.default_rng(0).random((2000, 8, 8, 1), dtype=np.float32)
    top1 = [next(iter(HostRuntime(kernels="reference").open(m.read_bytes()).predict([x]).values())).argmax(axis=1)
            for m in (chain.float_tflite, chain.int8_tflite)]
    differ = top1[0] != top1[1]
    assert differ.sum() >= 5, "the fixture needs samples the two models disagree on"
    path = tmp_path_factory.mktemp("disagreeing") / "d.npz"
    np.savez(path, x=x[differ], y=top1[0][differ])
    return path


def test_validate_budgets_fail_and_pass_exactly_as_set(chain, disagreeing):
    base = ["validate", chain.int8_tflite, "--reference", chain.float_tflite, "--data", disagreeing,
            "--kernels", "reference", "--min-agreement", 0, "--max-size-kb", 1024]
    result = run(*base, "--max-accuracy-drop", 99, "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    v = doc["sections"]["validation"]
    assert (v["reference_accuracy"], v["candidate_accuracy"], v["agreement"]) == (1.0, 0.0, 0.0)
    assert [(c["name"], c["ok"]) for c in doc["checks"]] == [("accuracy drop", False), ("agreement", True), ("size", True)]
    assert _check_lines(run(*base, "--max-accuracy-drop", 99).stdout) == [
        "✗ accuracy drop: 100.00 points (budget 99)", "✓ agreement: 0.00% (budget ≥ 0%)",
        f"✓ size: {chain.int8_tflite.stat().st_size / 1024:.1f} KB (budget 1024 KB)", "✗ 1 of 3 checks fails",
        "Next: the failed checks above; `edgeconv convert` prints the layers that lose the most"]
    result = run(*base, "--max-accuracy-drop", 100)
    assert result.exit_code == 0, result.output
    assert _check_lines(result.stdout)[3:] == ["✓ all 3 checks pass", "Next: -o DIR writes report.html; budgets "
                                               "(--max-accuracy-drop, --max-arena-kb) make this a build gate"]


def _check_lines(output: str) -> list[str]:
    """What follows the summary table: one line per check, the verdict and the next step."""
    return output.splitlines()[output.splitlines().index(next(l for l in output.splitlines() if l.startswith("└"))) + 1:]


def test_validate_garbage_candidate(chain, tmp_path):
    result = run("validate", chain.invalid, "--reference", chain.keras_path, "--data", chain.test_npz)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"Error: {chain.invalid} is not a TFLite model (no TFL3 flatbuffer identifier)"


def test_inspect_json_and_text(chain):
    result = run("inspect", chain.int8_tflite, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["fully_integer"] is True and doc["op_counts"]["CONV_2D"] == 2
    assert doc["subgraphs"][0]["inputs"][0]["dtype"] == "int8"
    assert doc["subgraphs"][0]["arena_estimate_bytes"] > 0
    a32, a64 = doc["arena"]["32bit"], doc["arena"]["64bit"]
    assert a32["head_bytes"] == a64["head_bytes"] and a32["tail_bytes"] < a64["tail_bytes"]
    assert a32["total_bytes"] == a32["head_bytes"] + a32["tail_bytes"]
    assert (doc["integer_ops"], doc["integer_io"], doc["float_ops"]) == (True, True, [])
    assert doc["io_types"] == {"inputs": ["int8"], "outputs": ["int8"]}
    text = run("inspect", chain.float_tflite).output
    assert "float32 [1, 8, 8, 1]" in text
    assert "tensor arena, estimated for a 32-bit MCU: head " in text
    assert "tensor arena, estimated for a 64-bit host: head " in text
    assert text.splitlines()[-3:] == [
        "I/O types: inputs float32; outputs float32",
        "all ops integer: no (7 op(s) compute in float: CONV_2D, FULLY_CONNECTED, MAX_POOL_2D, RESHAPE, SOFTMAX)",
        "fully integer: no (float ops and non-integer I/O)"]


@pytest.fixture(scope="module")
def int8_in_uint8_out(chain, tmp_path_factory):
    """A real conversion whose input is int8 and output uint8: every op integer, I/O mixed."""
    from converter import keras_env
    from converter.inputs.data import load_dataset
    from converter.export.tflite import ConvertOptions, make_converter, representative
    from converter.inputs.models import input_shapes

    converter = make_converter(chain.model, ConvertOptions(), input_shapes(chain.model))
    converter.representative_dataset = representative(load_dataset(str(chain.train_npz)), 1)
    converter.inference_output_type = keras_env.tf().uint8
    path = tmp_path_factory.mktemp("mixed_io") / "int8_in_uint8_out.tflite"
    path.write_bytes(converter.convert())
    return path


def test_inspect_integer_ops_apart_from_mixed_integer_io(int8_in_uint8_out):
    doc = json.loads(run("inspect", int8_in_uint8_out, "--json").stdout)
    assert doc["io_types"] == {"inputs": ["int8"], "outputs": ["uint8"]}
    assert (doc["fully_integer"], doc["integer_ops"], doc["integer_io"], doc["float_ops"]) == (True, True, True, [])
    assert run("inspect", int8_in_uint8_out).output.splitlines()[-3:] == [
        "I/O types: inputs int8; outputs uint8", "all ops integer: yes", "fully integer: yes"]


@pytest.mark.parametrize("name", ["missing.tflite", "dir"])
def test_inspect_bad_paths(tmp_path, name):
    (tmp_path / "dir").mkdir()
    result = run("inspect", tmp_path / name)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"Error: {tmp_path / name} is not a file"


def _strings(p):
    np.save(p / "d.npy", np.array([["a"] * 64] * 3))
    return p / "d.npy", f"Error: {p / 'd.npy'}: x has dtype <U1, not numbers"


def _empty(p):
    (p / "d.npz").write_bytes(b"")
    return p / "d.npz", f"Error: data file {p / 'd.npz'} is empty"


def _bad_image(p):
    (p / "imgs" / "cat").mkdir(parents=True)
    (p / "imgs" / "cat" / "x.png").write_bytes(b"garbage")
    return p / "imgs", f"Error: cannot read image {p / 'imgs' / 'cat' / 'x.png'}"


def _complex(p):
    np.save(p / "d.npy", np.zeros((3, 8, 8, 1), np.complex64))
    return p / "d.npy", f"Error: {p / 'd.npy'}: x has dtype complex64, not numbers"


@pytest.mark.parametrize("make", [_strings, _empty, _bad_image, _complex])
def test_convert_bad_data_table(chain, tmp_path, make):
    data, first_line = make(tmp_path)
    result = run("convert", chain.keras_path, "--data", data, "-o", tmp_path / "o.tflite")
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0].startswith(first_line)
    assert "Traceback" not in result.output and not (tmp_path / "o.tflite").exists()


def test_validate_budgets_pass_and_fail_as_set(chain):
    base = ["validate", chain.int8_tflite, "--reference", chain.keras_path, "--data", chain.test_npz, "--json"]
    generous = run(*base, "--max-accuracy-drop", 50, "--min-agreement", 50, "--max-latency-ms", 1000,
                   "--max-arena-kb", 1024, "--max-size-kb", 1024)
    assert generous.exit_code == 0, generous.output
    checks = {c["name"]: c for c in json.loads(generous.stdout)["checks"]}
    assert set(checks) == {"accuracy drop", "agreement", "latency", "arena", "size"}
    assert all(c["ok"] for c in checks.values())
    tight = run(*base, "--max-latency-ms", 0, "--max-size-kb", 1)
    assert tight.exit_code == 1
    checks = {c["name"]: c for c in json.loads(tight.stdout)["checks"]}
    assert not checks["latency"]["ok"] and "(budget 0 ms)" in checks["latency"]["detail"]
    assert not checks["size"]["ok"] and checks["size"]["detail"].endswith("KB (budget 1 KB)")


def test_validate_corrupt_and_random_candidates(chain, tmp_path):
    data = chain.int8_tflite.read_bytes()
    (tmp_path / "cut.tflite").write_bytes(data[: len(data) // 2])
    (tmp_path / "random.tflite").write_bytes(np.random.default_rng(0).bytes(4096))
    for name in ("cut.tflite", "random.tflite"):
        result = run("validate", tmp_path / name, "--reference", chain.keras_path, "--data", chain.test_npz)
        assert result.exit_code == 3, result.output
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.output


def test_accuracy_budget_on_unlabelled_data_fails_and_says_why(chain, tmp_path):
    """A budget that cannot be evaluated is a ✗ with the reason, never a silent pass."""
    unlabelled = tmp_path / "x.npy"
    np.save(unlabelled, np.load(chain.test_npz)["x"][:50])
    result = run("validate", chain.int8_tflite, "--reference", chain.keras_path, "--data", unlabelled,
                 "--max-accuracy-drop", 1, "--json")
    assert result.exit_code == 1, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["accuracy drop"]["ok"] is False
    assert checks["accuracy drop"]["detail"].startswith("cannot be evaluated: ")
    assert "labels" in checks["accuracy drop"]["detail"]


def test_multi_input_model_is_validated_with_each_input_fed_by_name(tmp_path):
    """The converter orders this model's inputs [vector, image]; the data stays in Keras'
    order [image, vector] and must reach the right tensors on both sides."""
    from converter import keras_env

    keras = keras_env.keras()
    a, b = keras.Input((4,), name="image"), keras.Input((4,), name="vector")
    model = keras.Model([a, b], keras.layers.Add()([keras.layers.Dense(3)(a), keras.layers.Dense(3)(b)]))
    model.save(tmp_path / "two_inputs.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x0=rng.random((64, 4), dtype=np.float32),
             x1=100 * rng.random((64, 4), dtype=np.float32))
    assert run("convert", tmp_path / "two_inputs.keras", "--data", tmp_path / "d.npz",
               "-o", tmp_path / "m.tflite").exit_code == 0
    result = run("validate", tmp_path / "m.tflite", "--reference", tmp_path / "two_inputs.keras",
                 "--data", tmp_path / "d.npz", "--kernels", "reference", "--json")
    assert result.exit_code == 0, result.output
    (output,) = json.loads(result.stdout)["sections"]["validation"]["outputs"]
    assert output["cosine"] > 0.999, output


def test_a_third_party_tflite_takes_npz_arrays_by_input_name(tmp_path):
    """TF's converter orders these inputs [b, a]; arrays named a and b reach their own tensors
    (by position, x0 = a would have gone to b: same shapes, no error, wrong answers)."""
    from converter import keras_env

    keras, tf = keras_env.keras(), keras_env.tf()
    a, b = keras.Input((8,), name="a"), keras.Input((8,), name="b")
    model = keras.Model([a, b], keras.layers.Dense(3)(keras.layers.Concatenate()([a, 3 * b])))
    (tmp_path / "m.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    from converter.tflite.reader import read_model_file

    assert read_model_file(tmp_path / "m.tflite").input_names() == ["b", "a"]  # not the Keras order
    rng = np.random.default_rng(0)
    xa, xb = rng.random((32, 8), dtype=np.float32), 10 * rng.random((32, 8), dtype=np.float32)
    np.savez(tmp_path / "named.npz", a=xa, b=xb, y=model.predict([xa, xb], verbose=0).argmax(1))
    result = run("validate", tmp_path / "m.tflite", "--reference", tmp_path / "m.tflite", "--data",
                 tmp_path / "named.npz", "--kernels", "reference", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sections"]["validation"]["reference_accuracy"] == 1.0


def test_a_reference_whose_input_names_differ_is_fed_by_position_with_a_warning(tmp_path):
    from converter import keras_env

    keras, tf = keras_env.keras(), keras_env.tf()
    for name, (first, second) in {"ours": ("a", "b"), "other": ("c", "d")}.items():
        a, b = keras.Input((4,), name=first), keras.Input((4,), name=second)
        model = keras.Model([a, b], keras.layers.Dense(3)(keras.layers.Concatenate()([a, b])))
        (tmp_path / f"{name}.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x0=rng.random((8, 4), dtype=np.float32), x1=rng.random((8, 4), dtype=np.float32))
    result = run("validate", tmp_path / "ours.tflite", "--reference", tmp_path / "other.tflite", "--data",
                 tmp_path / "d.npz", "--kernels", "reference")
    assert result.exit_code == 0, result.output
    assert "have other names, so they were fed by position" in " ".join(result.stderr.split())
    same = run("validate", tmp_path / "ours.tflite", "--reference", tmp_path / "ours.tflite", "--data",
               tmp_path / "d.npz", "--kernels", "reference")
    assert same.exit_code == 0 and "fed by position" not in same.stderr

