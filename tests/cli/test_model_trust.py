"""No code from a model file runs without --trust-model, in any format and any command: a
Lambda whose function writes a marker file is refused (exit 3, layer named) and the marker
never appears; with --trust-model the same file loads."""
import json
import os
import sys
import zipfile

import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli

MARKER_ENV = "EDGECONV_TEST_MARKER"
# The Lambda's function, self-contained so it runs wherever the file is loaded: proof that
# code from the file ran.
_WRITES_MARKER = lambda t: (open(__import__("os").environ["EDGECONV_TEST_MARKER"], "w").close(), t)[1]  # noqa: E731


def _keras2_model():
    k = keras_env.keras()
    i = k.Input((8, 8, 1))
    x = k.layers.Lambda(_WRITES_MARKER, name="marker_lambda")(i)
    return k.Model(i, k.layers.Dense(10, activation="softmax")(k.layers.Flatten()(x)))


def _keras3_model():
    k3 = keras_env.keras3()
    i = k3.Input((8, 8, 1))
    x = k3.layers.Lambda(_WRITES_MARKER, name="marker_lambda")(i)
    return k3.Model(i, k3.layers.Dense(10, activation="softmax")(k3.layers.Flatten()(x)))


@pytest.fixture(scope="module")
def lambda_models(tmp_path_factory):
    """The same Lambda model as Keras 2 .keras, .h5 and SavedModel, and as Keras 3 .keras."""
    root = tmp_path_factory.mktemp("lambda_models")
    os.environ[MARKER_ENV] = str(root / "built")  # building the model calls the function once
    k2 = _keras2_model()
    k2.save(root / "k2.keras")
    k2.save(root / "k2.h5")
    k2.save(root / "k2_savedmodel", save_format="tf")
    _keras3_model().save(root / "k3.keras")
    return {p: root / p for p in ("k2.keras", "k2.h5", "k2_savedmodel", "k3.keras")}


def commands(model):
    return {
        "convert": ["convert", model, "--data", "{data}", "-o", "{out}/m.tflite"],
        "validate --reference": ["validate", "{int8}", "--reference", model, "--data", "{data}"],
        "distill --teacher": ["distill", "--teacher", model, "--student", "tiny_cnn", "--data", "{data}",
                              "-o", "{out}/s.keras", "--epochs", "1"],
        "explain": ["explain", model, "{int8}", "--data", "{data}", "-o", "{out}/ex", "--samples", "1"],
        "prune": ["prune", model, "--data", "{data}", "-o", "{out}/p.keras", "--epochs", "1"],
        "qat": ["qat", model, "--data", "{data}", "-o", "{out}/q.h5", "--epochs", "1"],
        "run --model": ["run", "demo", "--model", model, "-o", "{out}/run"],
    }


@pytest.mark.parametrize("fmt", ["k2.keras", "k2.h5", "k2_savedmodel", "k3.keras"])
@pytest.mark.parametrize("command", list(commands("")))
def test_lambda_is_refused_without_trust(chain, lambda_models, tmp_path, monkeypatch, fmt, command):
    marker = tmp_path / "marker"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(data=chain.train_npz, int8=chain.int8_tflite, out=out)
            for a in commands(str(lambda_models[fmt]))[command]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    name = lambda_models[fmt].name
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {name} would run code when loaded: layer 'marker_lambda' "
                      "is a Lambda layer, whose Python code is stored in the file"]
    assert "--trust-model" in result.stderr
    assert not marker.exists()
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("fmt", ["k2.keras", "k2.h5", "k2_savedmodel"])
def test_trusted_lambda_model_loads_and_runs_its_code(lambda_models, tmp_path, monkeypatch, fmt):
    marker = tmp_path / "marker"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    result = CliRunner().invoke(cli, ["convert", str(lambda_models[fmt]), "--data", "demo", "--trust-model",
                                      "-o", str(tmp_path / "m.tflite")])
    assert result.exit_code == 0, result.output
    assert marker.exists() and (tmp_path / "m.tflite").stat().st_size > 0


def test_module_outside_keras_is_not_imported(chain, tmp_path, monkeypatch):
    """tf_keras' .keras loader imports the `module` a config names: a module whose import
    writes the marker must never be imported from an untrusted file."""
    (tmp_path / "edgeconv_evil_module.py").write_text(
        "import os\nopen(os.environ['EDGECONV_TEST_MARKER'], 'w').close()\nfrom tf_keras.layers import Dense\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    marker = tmp_path / "marker"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    model = tmp_path / "evil.keras"
    _rewrite_module(chain.keras_path, model, layer_class="Dense", module="edgeconv_evil_module")
    result = CliRunner().invoke(cli, ["convert", str(model), "--data", str(chain.train_npz),
                                      "-o", str(tmp_path / "m.tflite")])
    assert result.exit_code == 3, result.output
    assert "would import edgeconv_evil_module" in result.stderr.splitlines()[0]
    assert not marker.exists() and "edgeconv_evil_module" not in sys.modules
    assert not (tmp_path / "m.tflite").exists()


def _rewrite_module(source, target, layer_class, module):
    """Copy a .keras file with every `layer_class` layer pointing at another module."""
    with zipfile.ZipFile(source) as z:
        files = {n: z.read(n) for n in z.namelist()}
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] == layer_class:
            layer["module"] = module
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
