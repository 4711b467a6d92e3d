"""Every command against what a careless user passes: exit code and the first line of the
message, no traceback, nothing written."""
import numpy as np
import pytest
from click.testing import CliRunner

from converter.cli import cli


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "empty.tflite").write_bytes(b"")
    (root / "empty.npz").write_bytes(b"")
    (root / "folder").mkdir()
    (root / "text.keras").write_text("not a model")
    np.save(root / "nan.npy", np.full((4, 8, 8, 1), np.nan, np.float32))
    np.save(root / "wrong.npy", np.zeros((4, 5), np.float32))
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]  # 9 levels of 9: 9**9 values once expanded
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (root / "laughs.yaml").write_text("\n".join(laughs) + "\n")
    (root / "dangling.tflite").symlink_to(root / "missing-target.tflite")
    (root / "notes.yaml").write_text("root:x:0:0:root:/root:/bin/bash\n")
    for name, y in (("range", [0, 1, 10, 2]), ("negative", [0, -1, 2, 3]), ("fraction", [0, 0.5, 2, 3]),
                    ("strings", ["0", "1", "2", "3"]), ("onehot", np.eye(10)[:4]), ("count", [0, 1, 2])):
        np.savez(root / f"labels_{name}.npz", x=np.zeros((4, 8, 8, 1), np.float32), y=np.array(y))
    np.savez(root / "big.npz", x=np.zeros((4, 28, 28, 1), np.float32), y=np.zeros(4, int))
    np.savez(root / "rgb.npz", x=np.zeros((4, 8, 8, 3), np.float32), y=np.zeros(4, int))
    np.save(root / "rank3.npy", np.zeros((4, 8, 8), np.float32))
    np.save(root / "unlabelled.npy", np.zeros((40, 8, 8, 1), np.float32))
    (root / "table.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (root / "text.npz").write_text("not an archive\n")
    (root / "corrupt.tflite").write_bytes(b"\0\0\0\0TFL3" + b"\xff" * 90)
    (root / "samples.yaml").write_text('stages:\n  - convert: {samples: "lots"}\n')
    (root / "align.yaml").write_text("stages:\n  - convert: {}\n  - package: {firmware: {alignment: 7}}\n")
    (root / "resize.yaml").write_text("data: big.npz\npreprocess: {resize: [8, 8]}\nstages: [convert: {}]\n")
    (root / "twice.yaml").write_text("seed: 1\nstages: [convert: {}]\nseed: 2\n")
    for name, search in (("tune", "{convert: {samples: [10, 50]}}"), ("tune_step", "{qat: {epochs: [1, 3]}}"),
                         ("tune_typo", "{prun: {sparsity: [0.3, 0.8]}}"), ("tune_empty", "{convert: {samples: [500, 10]}}"),
                         ("tune_bounds", "{convert: {percentile: [40, 99]}}"),
                         ("tune_combination", "{convert: {mode: [int8, int16x8], calibration: [minmax, mse]}}")):
        (root / f"{name}.yaml").write_text(f"stages:\n  - convert: {{}}\nsearch: {search}\n")
    _models(root)
    return root


def _models(root):
    """Keras models whose input shape differs from the demo model's: fixed 4x4, and dynamic."""
    from converter import keras_env
    from converter.inputs.models import save_model

    keras = keras_env.keras()
    save_model(keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]),
               root / "small.keras")
    save_model(keras.Sequential([keras.Input((None, None, 1)), keras.layers.Conv2D(4, 3),
                                 keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]), root / "dynamic.keras")
    dynamic = keras_env.tf().lite.TFLiteConverter.from_keras_model(keras.models.load_model(root / "dynamic.keras"))
    (root / "dynamic.tflite").write_bytes(dynamic.convert())


def cases():
    m, t, d = "{keras}", "{int8}", "{data}"
    return [
        # command args, expected exit code, expected start of the first stderr line
        (["convert", "{bad}/missing.keras", "--data", d, "-o", "{out}/o.tflite"], 3, "Error: model"),
        (["convert", "{bad}/folder", "--data", d, "-o", "{out}/o.tflite"], 3, "Error: {bad}/folder is a folder"),
        (["convert", "{bad}/text.keras", "--data", d, "-o", "{out}/o.tflite"], 3, "Error: {bad}/text.keras is not a Keras"),
        (["convert", m, "--data", "{bad}/empty.npz", "-o", "{out}/o.tflite"], 3, "Error: data file {bad}/empty.npz is empty"),
        (["convert", m, "--data", "{bad}/nan.npy", "-o", "{out}/o.tflite"], 3, "Error: {bad}/nan.npy: 4 sample(s) contain NaN"),
        (["convert", m, "--data", "{bad}/wrong.npy", "-o", "{out}/o.tflite"], 3, "Error: data samples have shape (5,)"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--resize", "4x4"], 2,
         "Error: --resize applies to image folders only, and {data} is not one"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--grayscale"], 2, "Error: --grayscale applies to image"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--bgr"], 2, "Error: --bgr applies to image folders"),
        (["convert", m, "--data", "{pngs}", "-o", "{out}/o.tflite", "--bgr"], 3,
         "Error: --bgr reorders colour channels, but these images are read with 1 channel"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--label-column", "y"], 2,
         "Error: --label-column applies to .csv data only"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--io", "uint8", "--mode", "float32"], 3,
         "Error: uint8 inputs and outputs need mode int8 (mode float32 gives float32 ones)"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--io", "uint8", "--mode", "int16x8"], 3,
         "Error: uint8 inputs and outputs need mode int8 (mode int16x8 gives int16 ones)"),
        (["convert", m, "--data", "{bad}/text.npz", "-o", "{out}/o.tflite"], 3,
         "Error: {bad}/text.npz is not an .npz file (not a zip archive)"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--mean", "1,2,3", "--std", "1"], 3,
         "Error: --mean has 3 values but the data has 1 channel(s)"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--scale", "nan"], 3, "Error: --scale must be finite, not nan"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--offset", "nan"], 3, "Error: --offset must be finite"),
        (["convert", m, "--data", d, "-o", "{out}/o.tflite", "--mean", "0", "--std", "nan"], 3,
         "Error: --std must be finite"),
        (["validate", "{bad}/empty.tflite", "--reference", m, "--data", d], 3, "Error: {bad}/empty.tflite is not a TFLite"),
        (["validate", t, "--reference", m, "--data", d, "--max-size-kb", "-1"], 2, "Usage:"),
        (["validate", t, "--reference", m, "--data", "{bad}/big.npz"], 3,
         "Error: data samples have shape (28, 28, 1) but {int8} expects (8, 8, 1)"),
        (["validate", t, "--reference", m, "--data", "{bad}/rgb.npz"], 3,
         "Error: data samples have shape (8, 8, 3) but {int8} expects (8, 8, 1)"),
        (["validate", t, "--reference", m, "--data", "{bad}/table.csv"], 3,
         "Error: data samples have shape (3,) but {int8} expects (8, 8, 1)"),
        (["validate", t, "--reference", m, "--data", "{pngs}", "--resize", "4x4"], 3,
         "Error: data samples have shape (4, 4, 1) but {int8} expects (8, 8, 1)"),
        (["validate", t, "--reference", "{bad}/small.keras", "--data", d], 3,
         "Error: data samples have shape (8, 8, 1) but {bad}/small.keras expects (4, 4, 1)"),
        (["validate", t, "--reference", m, "--data", "{bad}/rank3.npy"], 3,
         "Error: data samples have shape (8, 8) but {int8} expects (8, 8, 1)"),
        (["validate", t, "--reference", "{bad}/corrupt.tflite", "--data", d], 3,
         "Error: {bad}/corrupt.tflite is a corrupt TFLite flatbuffer"),
        (["explain", m, t, "--data", "{bad}/big.npz", "-o", "{out}/ex"], 3,
         "Error: data samples have shape (28, 28, 1) but {int8} expects (8, 8, 1)"),
        (["explain", "{bad}/small.keras", t, "--data", d, "-o", "{out}/ex"], 3,
         "Error: data samples have shape (8, 8, 1) but {bad}/small.keras expects (4, 4, 1)"),
        (["validate", t, "--reference", m, "--data", d, "--kernels", "gpu"], 2, "Usage:"),
        (["validate", t, "--reference", "{bad}/folder", "--data", d], 3, "Error: {bad}/folder is a folder"),
        (["validate", t, "--reference", m, "--data", d, "--target", "tpu"], 3, "Error: unknown target 'tpu'"),
        (["validate", t, "--reference", m, "--data", d, "--target", "ssh://"], 3, "Error: 'ssh://' is not an ssh target"),
        (["validate", t, "--reference", m, "--data", d, "--target", "ssh://pi@localhost:99999"], 3,
         "Error: 'ssh://pi@localhost:99999' has an invalid port (use 1-65535)"),
        (["validate", t, "--reference", m, "--data", d, "--target", "ssh://-oProxyCommand=touch"], 3,
         "Error: 'ssh://-oProxyCommand=touch' has an invalid host name '-oproxycommand=touch'"),
        (["inspect", "{bad}/empty.tflite"], 3, "Error: {bad}/empty.tflite is not a TFLite"),
        (["inspect", "{bad}/folder"], 3, "Error: {bad}/folder is not a file"),
        (["bench", "{bad}/empty.tflite"], 3, "Error: {bad}/empty.tflite is not a TFLite"),
        (["bench", t, "--threads", "two"], 2, "Usage:"),
        (["bench", t, "--threads", "100000"], 2, "Error: Invalid value for '--threads': 100000 threads, but this machine"),
        (["bench", t, "{bad}/dynamic.tflite"], 3, "Error: dynamic.tflite: the model's input size is free, so there is no size"),
        (["validate", t, "--reference", "{bad}/empty.tflite", "--data", d], 3, "Error: {bad}/empty.tflite is not a TFLite"),
        (["convert", t, "--data", d, "-o", "{out}/m.tflite"], 3, "Error: {int8} is a TFLite model, not a Keras model"),
        (["package", t, "--format", "c-array", "--alignment", "3", "-o", "{out}/fw"], 2,
         "Error: Invalid value for '--alignment': 3 is not a power of two"),
        (["edgetpu", "{bad}/missing.tflite"], 3, "Error: {bad}/missing.tflite is not a file"),
        (["validate", "{bad}/missing.tflite", "--reference", m, "--data", d], 3,
         "Error: {bad}/missing.tflite is not a file"),
        (["explain", m, "{bad}/missing.tflite", "--data", d, "-o", "{out}/ex"], 3,
         "Error: {bad}/missing.tflite is not a file"),
        (["edgetpu", t, "--runtime", "12"], 2, "Usage:"),
        (["explain", m, "{bad}/empty.tflite", "--data", d, "-o", "{out}/ex"], 3, "Error: {bad}/empty.tflite is not a TFLite"),
        (["prune", "{bad}/text.keras", "--data", d, "-o", "{out}/p.keras"], 3, "Error: {bad}/text.keras is not a Keras"),
        (["prune", m, "--data", d, "-o", "{out}/p.keras", "--sparsity", "0"], 2, "Usage:"),
        (["prune", m, "--data", d, "-o", "{out}/p.keras", "--layer", "dense[=0.5"], 3,
         "Error: layer pattern 'dense[' is not a valid regular expression"),
        (["prune", m, "--data", d, "-o", "{out}/p.keras", "--layer", "nosuch=0.5"], 3,
         "Error: layer pattern 'nosuch' matches no layer of the model"),
        (["prune", m, "--data", d, "-o", "{out}/p.keras", "--type", "Dense2=0.5"], 3,
         "Error: layer type 'Dense2' is not in the model"),
        (["prune", m, "--data", d, "-o", "{out}/p.keras", "--type", "MaxPooling2D=0.5"], 3,
         "Error: layer type 'MaxPooling2D' has no kernel weight pruning can zero"),
        (["convert", m, "--data", d, "-o", "{out}/m.tflite", "--target", "edgetpu", "--mode", "int16x8"], 3,
         "Error: convert.mode int16x8 makes int16 activations, which the edgetpu does not run"),
        (["qat", m, "--data", "{bad}/missing.npz", "-o", "{out}/q.h5"], 3, "Error: data path {bad}/missing.npz does not exist"),
        (["qat", m, "--data", "{bad}/unlabelled.npy", "--targets", "labels", "--epochs", "1", "-o", "{out}/q.h5"], 3,
         "Error: {bad}/unlabelled.npy has no labels, which QAT with targets 'labels' needs"),
        (["distill", "--teacher", m, "--student", "tiny_cnn", "--data", d, "-o", "{out}/s.keras", "--alpha", "2"], 2,
         "Usage:"),
        (["run", "no-such-recipe"], 3, "Error: no bundled recipe named 'no-such-recipe'"),
        (["run", "mcu-int8", "--set", "budgets.max_arena_kb=-5", "-o", "{out}/r"], 3,
         "Error: budget max_arena_kb must be a non-negative number"),
        (["run", "mcu-int8", "--set", "stages.convert.sampels=5", "-o", "{out}/r"], 3, "Error: unknown key 'sampels'"),
        (["run", "mcu-int8", "--model", "{bad}/text.keras", "-o", "{out}/r"], 3, "Error: {bad}/text.keras is not a Keras"),
        (["run", "{bad}/samples.yaml", "-o", "{out}/r"], 3,
         "Error: stages.convert.samples must be a whole number, not 'lots' ({bad}/samples.yaml, line 2)"),
        (["run", "mcu-int8", "--set", "seed=abc", "-o", "{out}/r"], 3,
         "Error: seed must be a whole number, not 'abc' (--set seed=abc)"),
        (["run", "mcu-int8", "--set", "stages.5.convert.samples=3", "-o", "{out}/r"], 3,
         "Error: --set stages.5.convert.samples: stage settings are named by stage, not position"),
        (["run", "mcu-int8", "--set", "model.x.y=3", "-o", "{out}/r"], 3,
         "Error: --set model.x.y: model is 'demo', not a mapping of keys"),
        (["run", "{bad}/align.yaml", "-o", "{out}/r"], 3,
         "Error: stages.package.firmware.alignment must be a power of two, not 7 ({bad}/align.yaml, line 3)"),
        (["run", "mcu-int8", "--set", "stages.validate.workers=0", "-o", "{out}/r"], 3,
         "Error: stages.validate.workers must be between 1 and 64, not 0"),
        (["run", "{bad}/resize.yaml", "-o", "{out}/r"], 3,
         "Error: recipe preprocess: resize applies to image folders only, and {bad}/big.npz is not one"),
        (["run", "{bad}/twice.yaml", "-o", "{out}/r"], 3, "Error: duplicate key 'seed' at lines 1 and 3"),
        (["recipes", "show", "nope"], 3, "Error: no bundled recipe named 'nope'"),
        (["tune", "demo", "-o", "{out}/t"], 3, "Error: recipe 'demo' has no search section: nothing to tune"),
        (["tune", "{bad}/tune_step.yaml", "-o", "{out}/t"], 3,
         "Error: search.qat: the recipe has no qat step ({bad}/tune_step.yaml, line 3)"),
        (["tune", "{bad}/tune_typo.yaml", "-o", "{out}/t"], 3,
         "Error: unknown step 'prun' in search ({bad}/tune_typo.yaml, line 3); did you mean 'prune'?"),
        (["tune", "{bad}/tune_empty.yaml", "-o", "{out}/t"], 3,
         "Error: search.convert.samples: the range [500, 10] is empty; the low end comes first ({bad}/tune_empty.yaml, line 3)"),
        (["tune", "{bad}/tune_bounds.yaml", "-o", "{out}/t"], 3,
         "Error: search.convert.percentile must be at least 50 and below 100, not 40"),
        (["tune", "{bad}/tune_combination.yaml", "-o", "{out}/t"], 3,
         "Error: search.convert can make a step that does not build: calibration mse needs mode int8"),
        (["tune", "{bad}/tune.yaml", "--storage", "sqlite:///{out}/x.db", "-o", "{out}/t"], 3,
         "Error: --storage sqlite:///{out}/x.db is not a PostgreSQL URL"),
        (["tune", "{bad}/tune.yaml", "--storage", "postgresql://me:secret@127.0.0.1:1/db", "-o", "{out}/t"], 3,
         "Error: cannot use the study database postgresql://me:***@127.0.0.1:1/db"),
        (["tune", "{bad}/tune.yaml", "--cluster", "tcp://127.0.0.1:1", "-o", "{out}/t"], 3,
         "Error: cannot reach the Dask scheduler at tcp://127.0.0.1:1"),
        (["tune", "{bad}/tune.yaml", "--target", "nowhere", "-o", "{out}/t"], 3, "Error: unknown target 'nowhere'"),
        (["tune", "{bad}/tune.yaml", "--trials", "0", "-o", "{out}/t"], 2, "Error: Invalid value for '--trials'"),
        (["convert", m, "--data", d, "-o", "/proc/edgeconv.tflite"], 3,
         "Error: -o /proc/edgeconv.tflite cannot be written: /proc is not writable"),
        (["convert", m, "--data", d, "-o", "{bad}/dangling.tflite"], 3,
         "Error: output {bad}/dangling.tflite already exists (a link to {bad}/missing-target.tflite, which is missing)"),
        (["recipes", "show", "../../../../etc/passwd"], 3, "Error: ../../../../etc/passwd is not a recipe file"),
        (["recipes", "show", "{bad}/notes.yaml"], 3, "Error: {bad}/notes.yaml must hold a mapping of recipe keys"),
        (["run", "{bad}/laughs.yaml", "-o", "{out}/r"], 3, "Error: the recipe expands to more than 10,000 values"),
        (["run", "demo", "--set", "seed=!!python/object/apply:os.system [touch {out}/ran]", "-o", "{out}/r"], 3,
         "Error: unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system"),
        # labels that cannot be right for the 10-class model: refused before any work, by every command
        (["convert", m, "--data", "{bad}/labels_range.npz", "-o", "{out}/o.tflite"], 3,
         "Error: {bad}/labels_range.npz: label 10 (sample 2) is out of range: the model has 10 classes (0..9)"),
        (["validate", t, "--reference", m, "--data", "{bad}/labels_onehot.npz"], 3,
         "Error: {bad}/labels_onehot.npz: labels (y) have shape (4, 10): a row of scores per sample (one-hot?)"),
        (["validate", t, "--reference", m, "--data", "{bad}/labels_range.npz", "--max-accuracy-drop", "0.1"], 3,
         "Error: {bad}/labels_range.npz: label 10 (sample 2) is out of range"),
        (["explain", m, t, "--data", "{bad}/labels_fraction.npz", "-o", "{out}/ex"], 3,
         "Error: {bad}/labels_fraction.npz: label 0.5 (sample 1) is not a whole number"),
        (["prune", m, "--data", "{bad}/labels_strings.npz", "-o", "{out}/p.keras"], 3,
         "Error: {bad}/labels_strings.npz: labels (y) have dtype <U1, not class indices"),
        (["qat", m, "--data", "{bad}/labels_count.npz", "-o", "{out}/q.h5"], 3,
         "Error: {bad}/labels_count.npz: x has 4 samples but y has 3 labels"),
        (["distill", "--teacher", m, "--student", "tiny_cnn", "--data", "{bad}/labels_range.npz", "-o", "{out}/s.keras"],
         3, "Error: {bad}/labels_range.npz: label 10 (sample 2) is out of range"),
        (["run", "mcu-int8", "--model", m, "--data", "{bad}/labels_negative.npz", "-o", "{out}/r", "--json"], 3,
         "Error: {bad}/labels_negative.npz: label -1 (sample 1) is negative"),
        (["demo", "--epochs", "0"], 2, "Usage:"),
        (["nosuchcommand"], 2, "Usage:"),
    ]


@pytest.mark.parametrize("args, code, first_line", cases(), ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_input(chain, bad, digit_pngs, tmp_path, args, code, first_line):
    values = {"keras": chain.keras_path, "int8": chain.int8_tflite, "data": chain.train_npz, "bad": bad,
              "pngs": digit_pngs, "out": tmp_path}
    result = CliRunner().invoke(cli, [a.format(**values) for a in args])
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    if code == 2 and first_line.startswith("Error:"):  # click's usage block comes first; pin its Error line
        lines = [ln for ln in lines if ln.startswith("Error:")]
    assert lines[0].startswith(first_line.format(**values)), result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_constant_calibration_data_is_warned_about(chain, tmp_path):
    np.savez(tmp_path / "zeros.npz", x=np.zeros((20, 8, 8, 1), np.float32))
    result = CliRunner().invoke(cli, ["convert", str(chain.keras_path), "--data", str(tmp_path / "zeros.npz"),
                                      "-o", str(tmp_path / "o.tflite")])
    assert result.exit_code == 0, result.output
    assert "Warning: every data value is 0: constant data" in result.stderr


@pytest.mark.parametrize("args, code, message", [
    (["convert", "{keras}", "--data", "{bad}/text.npz", "-o", "{out}/o.tflite", "--json"], 3,
     "{bad}/text.npz is not an .npz file (not a zip archive)"),
    (["bench", "{int8}", "--threads", "two", "--json"], 2, "Invalid value for '--threads'"),
])
def test_json_failures_are_one_json_document(chain, bad, tmp_path, args, code, message):
    import json

    values = {"keras": chain.keras_path, "int8": chain.int8_tflite, "bad": bad, "out": tmp_path}
    result = CliRunner().invoke(cli, [a.format(**values) for a in args])
    error = json.loads(result.stdout)["error"]
    assert result.exit_code == error["exit_code"] == code
    assert error["message"].startswith(message.format(**values)) and error["hint"]


def test_training_progress_stays_off_stdout_with_json(chain, tmp_path):
    import json

    result = CliRunner().invoke(cli, ["prune", str(chain.keras_path), "--data", str(chain.train_npz), "--epochs", "1",
                                      "--progress", "--json", "-o", str(tmp_path / "p.keras")])
    assert result.exit_code == 0, result.output
    assert "targets" in json.loads(result.stdout)
    assert "loss:" in result.stderr  # the bars went to stderr


def test_dynamic_input_is_fixed_from_the_data(chain, bad, tmp_path):
    out = tmp_path / "d.tflite"
    result = CliRunner().invoke(cli, ["convert", str(bad / "dynamic.keras"), "--data", str(chain.train_npz),
                                      "--samples", "20", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert ("Warning: the model's input shape (None, None, 1) has free dimensions: the .tflite is fixed to the "
            "data's (8, 8, 1)") in result.stderr
    from converter.tflite.reader import read_model_file

    assert read_model_file(out).input_shapes() == [(1, 8, 8, 1)]


def test_a_dynamic_tflite_is_named_as_the_cause(bad):
    result = CliRunner().invoke(cli, ["bench", str(bad / "dynamic.tflite")])
    assert result.exit_code == 3
    assert "Hint: its input shape (-1, -1, -1, 1) has dynamic dimensions (-1): convert the Keras model again" \
        in result.stderr
