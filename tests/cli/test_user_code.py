"""Models that need their author's Python code (a registered custom layer and a subclassed
block inside a Functional model; a registered Keras 3 layer): without the code, the error names
the missing classes and --import; with --import (a .py file or a module name) they convert and
validate. The Keras 3 one has no tf_keras equivalent: it converts through Keras 3's own export,
and training steps say why they cannot use it."""
import json
import subprocess
import sys
import textwrap

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import converter
from converter.cli import cli

LAYERS = textwrap.dedent('''
    import tensorflow as tf
    import tf_keras as keras


    @keras.utils.register_keras_serializable(package="edgeconv_{fmt}")
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, shape):
            self.alpha = self.add_weight("alpha", shape=(shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.alpha * self.factor

        def get_config(self):
            return {{**super().get_config(), "factor": self.factor}}


    class Block(keras.Model):
        def __init__(self, filters=4, **kwargs):
            super().__init__(**kwargs)
            self.filters = filters
            self.conv = keras.layers.Conv2D(filters, 3, padding="same")
            self.bn = keras.layers.BatchNormalization()

        def call(self, x, training=False):
            return tf.nn.relu(self.bn(self.conv(x), training=training))

        def get_config(self):
            return {{"filters": self.filters, "name": self.name}}
''')

KERAS3_LAYERS = textwrap.dedent('''
    import keras


    @keras.saving.register_keras_serializable(package="edgeconv_k3")
    class Gain(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, shape):
            self.alpha = self.add_weight(name="alpha", shape=(shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.alpha * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}
''')

BUILD = textwrap.dedent('''
    import sys
    import numpy as np
    from converter import keras_env
    import layers_k3
    k3 = keras_env.keras3()
    k3.utils.set_random_seed(0)
    i = k3.Input((8, 8, 1))
    x = k3.layers.Conv2D(4, 3, padding="same", activation="relu")(layers_k3.Gain(0.5, name="gain")(i))
    k3.Model(i, k3.layers.Dense(10, activation="softmax")(k3.layers.Flatten()(x))).save("custom_k3.keras")
    keras = keras_env.keras()
    train = np.load(sys.argv[1])
    for fmt in ("keras", "h5"):
        keras.utils.set_random_seed(0)
        layers = __import__(f"layers_{fmt}")
        i = keras.Input((8, 8, 1))
        x = layers.Block(4, name="block")(layers.Scale(0.5, name="scale")(i))
        model = keras.Model(i, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x)))
        # Trained, as a user's model is: an untrained one's int8 accuracy drop is a coin toss
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(train["x"], train["y"], epochs=8, verbose=0)
        model.save(f"custom.{fmt}")
''')


@pytest.fixture(scope="module")
def custom_models(tmp_path_factory, chain):
    """Built by the model's author in another process: this one has never seen the classes."""
    root = tmp_path_factory.mktemp("custom")
    for fmt in ("keras", "h5"):
        (root / f"layers_{fmt}.py").write_text(LAYERS.format(fmt=fmt))
    (root / "layers_k3.py").write_text(KERAS3_LAYERS)
    subprocess.run([sys.executable, "-c", BUILD, str(chain.train_npz)], cwd=root, check=True, capture_output=True,
                   env={"PYTHONPATH": f"{root}:{Path(converter.__file__).parents[1]}", "PATH": "/usr/bin:/bin"})
    return root


@pytest.mark.parametrize("fmt, code", [("keras", "{root}/layers_keras.py"), ("h5", "layers_h5")])
def test_custom_classes_need_import(chain, custom_models, tmp_path, monkeypatch, fmt, code):
    monkeypatch.chdir(custom_models)  # a module name imports from the working folder, as `python -m` does
    model, out = str(custom_models / f"custom.{fmt}"), tmp_path / "m.tflite"
    base = ["convert", model, "--data", str(chain.train_npz), "-o", str(out)]
    result = CliRunner().invoke(cli, [*base, "--trust-model"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[:2] == [
        f"Error: custom.{fmt} needs edgeconv_{fmt}>Scale, Block, which Keras does not provide "
        "(their code is not imported)",
        "Hint: import the code that defines them with --import my_layers.py (or a module name); that trusts it"]

    code = code.format(root=custom_models)
    result = CliRunner().invoke(cli, [*base, "--import", code, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sections"]["conversion"]["fully_integer"] is True
    result = CliRunner().invoke(cli, ["validate", str(out), "--reference", model, "--import", code,
                                      "--data", str(chain.test_npz), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sections"]["validation"]["outputs"][0]["cosine"] > 0.99


def test_keras3_custom_layer_converts_natively(chain, custom_models, tmp_path):
    model, code = str(custom_models / "custom_k3.keras"), str(custom_models / "layers_k3.py")
    out = tmp_path / "m.tflite"
    result = CliRunner().invoke(cli, ["convert", model, "--data", str(chain.train_npz), "-o", str(out),
                                      "--trust-model"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == ("Error: custom_k3.keras needs edgeconv_k3>Gain, which Keras does not "
                                             "provide (their code is not imported)")

    result = CliRunner().invoke(cli, ["convert", model, "--data", str(chain.train_npz), "-o", str(out),
                                      "--import", code, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # Keras 3's export prints nothing into it
    assert report["sections"]["model"]["intake"] == {
        "source": "keras3-export", "rebuild_failed": "layer 'gain' (layers_k3.Gain) has no tf_keras equivalent",
        "max_abs_diff": 0.0, "tolerance": 1e-4}
    assert report["sections"]["conversion"]["fully_integer"] is True
    result = CliRunner().invoke(cli, ["validate", str(out), "--reference", model, "--import", code,
                                      "--data", str(chain.test_npz), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sections"]["validation"]["outputs"][0]["cosine"] > 0.99

    result = CliRunner().invoke(cli, ["qat", model, "--import", code, "--data", str(chain.train_npz),
                                      "-o", str(tmp_path / "q.h5")])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == (
        "Error: QAT needs a Keras model; custom_k3.keras is not one here: its Keras 3 model cannot be rebuilt in "
        "tf_keras: layer 'gain' (layers_k3.Gain) has no tf_keras equivalent")


def test_import_failure_is_reported(chain, tmp_path):
    (tmp_path / "broken_layers.py").write_text("raise RuntimeError('needs a GPU')\n")
    result = CliRunner().invoke(cli, ["convert", str(chain.keras_path), "--data", "demo",
                                      "-o", str(tmp_path / "m.tflite"), "--import", str(tmp_path / "broken_layers.py")])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == (f"Error: --import {tmp_path}/broken_layers.py failed: "
                                             "RuntimeError: needs a GPU")
    assert "broken_layers" not in sys.modules


def test_a_recipe_runs_a_model_that_needs_its_code(chain, custom_models, tmp_path):
    """`run` takes --import like the single-step commands: the recipe loads the custom-layer
    model with the user's classes, and without them says which are missing."""
    model, code = str(custom_models / "custom.keras"), str(custom_models / "layers_keras.py")
    base = ["run", "mcu-int8", "--model", model, "--data", str(chain.train_npz), "--json"]
    refused = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "refused")])
    assert refused.exit_code == 3 and "Error: custom.keras" in refused.stderr
    assert not (tmp_path / "refused").exists()
    result = CliRunner().invoke(cli, [*base, "-o", str(tmp_path / "run"), "--import", code])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["sections"]["conversion"]["fully_integer"] is True
    assert report["sections"]["validation"]["outputs"][0]["cosine"] > 0.99


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_a_layer_keras_applications_define_but_do_not_register_loads_without_import(tmp_path, fmt):
    """ConvNeXt's LayerScale lives in tf_keras.src.applications.convnext, unregistered: tf_keras'
    loader failed on it ("'str' object is not callable"); it is library code, so no --import."""
    from tf_keras.src.applications.convnext import LayerScale

    from converter import keras_env
    from converter.inputs.models import load_model

    keras = keras_env.keras()
    inputs = keras.Input((4, 4, 8))
    model = keras.Model(inputs, LayerScale(0.5, 8, name="scale")(keras.layers.Conv2D(8, 1)(inputs)))
    path = tmp_path / f"layerscale.{fmt}"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded.get_layer("scale")) is LayerScale
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype(np.float32)
    assert np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
