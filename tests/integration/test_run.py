"""Recipes end to end: artifacts, manifest, byte-identical reruns, firmware that compiles."""
import hashlib
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli
from converter.errors import ModelError
from converter.targets.micro import MicroRuntime
from converter.pipeline.recipe import bundled_names


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def mcu_run(tmp_path_factory, chain):
    out = tmp_path_factory.mktemp("runs") / "mcu"
    result = run("run", "mcu-int8", "--model", chain.keras_path, "--data", chain.train_npz, "-o", out, "--json",
                 "--set", "stages.validate.kernels=xnnpack")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_run_writes_artifacts_manifest_and_resolved_recipe(mcu_run, chain):
    out, report = mcu_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest) == {"model_int8.tflite", "firmware/model_int8.c", "firmware/model_int8.h", "recipe.yaml",
                             "report.json", "report.md", "report.html"}
    for name, digest in manifest.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert f"model: {chain.keras_path}" in (out / "recipe.yaml").read_text()
    assert {c["name"] for c in report["checks"]} == {"fully integer", "accuracy drop", "arena", "size"}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_firmware_c_array_compiles(mcu_run, tmp_path):
    out, report = mcu_run
    fw = out / "firmware"
    main = tmp_path / "main.c"
    main.write_text('#include "model_int8.h"\n#include <stdio.h>\n#include <string.h>\n'
                    "int main(void){ printf(\"%u %d %d\\n\", model_int8_model_len, MODEL_INT8_ARENA_ESTIMATE_BYTES,"
                    " memcmp(model_int8_model + 4, \"TFL3\", 4) == 0 && ((unsigned long)model_int8_model % 16) == 0);"
                    " return 0; }\n")
    subprocess.run(["gcc", "-c", "-Wall", "-Werror", str(fw / "model_int8.c"), "-o", str(tmp_path / "m.o")],
                   check=True)
    subprocess.run(["gcc", "-I", str(fw), str(main), str(fw / "model_int8.c"), "-o", str(tmp_path / "a.out")],
                   check=True)
    printed = subprocess.run([str(tmp_path / "a.out")], capture_output=True, text=True, check=True).stdout.split()
    tflite = (out / "model_int8.tflite").read_bytes()
    assert printed == [str(len(tflite)), str(report["sections"]["memory"]["int8"]["arena_estimate_bytes"]), "1"]


def test_rerun_is_byte_identical_and_budgets_fail_the_build(mcu_run, chain, tmp_path):
    out, _ = mcu_run
    result = run("run", "mcu-int8", "--model", chain.keras_path, "--data", chain.train_npz, "-o", tmp_path / "again",
                 "--set", "stages.validate.kernels=xnnpack", "--set", "budgets.max_arena_kb=0.5")
    assert result.exit_code == 1, result.output
    marks = {line[2:].split(":")[0]: line[0] for line in result.stdout.splitlines() if line[:1] in "✓✗" and ":" in line}
    assert marks.pop("arena") == "✗" and set(marks.values()) == {"✓"}, marks  # only the arena budget fails
    for name in ("model_int8.tflite", "firmware/model_int8.c"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()


def test_mobile_bundle(chain, tmp_path, digit_pngs):
    out = tmp_path / "mobile"
    result = run("run", "mobile-int8", "--model", chain.keras_path, "--data", digit_pngs, "-o", out,
                 "--set", "preprocess.scale=0.00392156862745098", "--set", "budgets.max_accuracy_drop=10")
    assert result.exit_code == 0, result.output
    from converter.tflite.metadata import edgeconv_info

    bundle = out / "mobile"
    assert (bundle / "labels.txt").read_text().split() == [str(k) for k in range(10)]
    info = edgeconv_info((bundle / "model_int8.tflite").read_bytes())
    assert info["classes"] == [str(k) for k in range(10)] and info["preprocess"]["scale"] == pytest.approx(1 / 255)
    assert "top-1 agreement" in (bundle / "model_card.md").read_text()
    from converter.export.tflite_metadata import read_back

    meta = read_back((bundle / "model_int8.tflite").read_bytes())  # the standard TFLITE_METADATA entry
    assert meta["name"] == "model_int8" and meta["min_parser_version"] == "1.0.0"
    assert meta["mean"] == [0.0] and meta["std"] == pytest.approx([255.0])  # x / 255 as (x - 0) / 255
    assert meta["content_type"] == 2 and meta["labels_file"] == "labels.txt"  # image input; labels attached
    assert meta["image_size"] == (8, 8)
    assert meta["associated_files"]["labels.txt"].split() == [str(k) for k in range(10)]
    from converter.targets.host import HostSession

    assert HostSession((bundle / "model_int8.tflite").read_bytes()).predict([np.zeros((2, 8, 8, 1))])["probs"].shape \
        == (2, 10)


@pytest.mark.slow
@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_recipe_runs_on_the_demo(name, tmp_path):
    result = run("run", name, "-o", tmp_path / name, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"]


def _tf_converted(model, optimise=None) -> bytes:
    tf = keras_env.tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if optimise:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if optimise == "float16":
            converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


@pytest.mark.parametrize("kind, problem", [
    ("float16", "float16 tensors (it has no float16 kernels)"),
    ("dynamic_range", "dynamic-range ops (float activations with int8 weights)")])
@pytest.mark.skipif(not MicroRuntime().availability().ok, reason="tflite-micro is not installed")
def test_firmware_of_a_model_tflite_micro_cannot_run_warns(tmp_path, kind, problem):
    """TF's own float16 and dynamic-range files: tflite-micro refuses both at prepare, so the
    C array comes with a warning (another MCU runtime may take them) and no 'compile it' advice."""
    keras = keras_env.keras()
    model = keras.Sequential([keras.Input((64,), batch_size=1), keras.layers.Dense(64), keras.layers.Dense(2)])
    (tmp_path / "m.tflite").write_bytes(_tf_converted(model, "float16" if kind == "float16" else "default"))
    result = run("package", tmp_path / "m.tflite", "--format", "c-array", "-o", tmp_path / "fw")
    assert result.exit_code == 0, result.output
    assert f"Warning: tflite-micro cannot run this model: {problem}" in result.stderr
    assert "Next: compile" not in result.stdout
    with pytest.raises(ModelError, match=f"tflite-micro cannot run this model: {re.escape(problem)}"):
        MicroRuntime().open((tmp_path / "m.tflite").read_bytes())


def test_mobile_bundle_of_a_third_party_model_claims_nothing_it_does_not_know(tmp_path):
    """TF's own conversion of a model with free image sizes: no edgeconv metadata, so no
    normalization, no 'converted with edgeconv' and no image size are written; two inputs are refused."""
    from converter.export.tflite_metadata import read_back

    keras = keras_env.keras()
    image = keras.Input((None, None, 3), batch_size=1)
    model = keras.Model(image, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(image)))
    (tmp_path / "m.tflite").write_bytes(_tf_converted(model))
    result = run("package", tmp_path / "m.tflite", "--format", "mobile", "-o", tmp_path / "app")
    assert result.exit_code == 0, result.output
    meta = read_back((tmp_path / "app" / "m.tflite").read_bytes())
    assert (meta["mean"], meta["std"], meta["content_type"], meta["image_size"]) == (None, None, 2, None)
    card = (tmp_path / "app" / "model_card.md").read_text()
    assert "not converted by it: its preprocessing is unknown" in card and "Converted with edgeconv" not in card
    assert "- preprocessing: unknown" in card
    wide = keras.Input((6, 10, 3), batch_size=1)  # height 6, width 10: the metadata stores width first
    (tmp_path / "wide.tflite").write_bytes(_tf_converted(keras.Model(wide, keras.layers.Dense(2)(wide))))
    assert run("package", tmp_path / "wide.tflite", "--format", "mobile", "-o", tmp_path / "wide").exit_code == 0
    assert read_back((tmp_path / "wide" / "wide.tflite").read_bytes())["image_size"] == (10, 6)

    a, b = keras.Input((4,), batch_size=1), keras.Input((4,), batch_size=1)
    (tmp_path / "two.tflite").write_bytes(_tf_converted(keras.Model([a, b], keras.layers.Add()([a, b]))))
    result = run("package", tmp_path / "two.tflite", "--format", "mobile", "-o", tmp_path / "app2")
    assert result.exit_code == 3 and "describes one input and one output; two.tflite has 2 input(s)" in result.stderr
    assert not (tmp_path / "app2").exists()


def test_run_bad_inputs(tmp_path, chain):
    result = run("run", "mcu-int8", "--model", tmp_path / "missing.keras", "-o", tmp_path / "o")
    assert result.exit_code == 3 and "does not exist" in result.stderr and not (tmp_path / "o").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_package_command(chain, tmp_path):
    result = run("package", chain.int8_tflite, "--format", "c-array", "--xxd-names", "-o", tmp_path / "fw")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"Packaged model_int8.tflite as c-array -> {tmp_path / 'fw'}: model_int8.c, model_int8.h"
    header = (tmp_path / "fw" / "model_int8.h").read_text()
    assert "extern const unsigned char model_int8_tflite[];" in header and "MODEL_INT8_ARENA_ESTIMATE_BYTES" in header
    assert "Warning" not in result.stderr and "Next: compile the .c" in result.stdout
    result = run("package", chain.int8_tflite, "--format", "mobile", "-o", tmp_path / "app")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "app").iterdir()) == [".edgeconv-output.json", "model_card.md",
                                                                   "model_int8.tflite"]
    again = run("package", chain.int8_tflite, "--format", "mobile", "-o", tmp_path / "app")
    assert again.exit_code == 3 and "already exists" in again.stderr
