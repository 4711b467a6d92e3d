"""Data formats through the CLI: image folders with stored preprocessing, CSV, warnings."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli
from converter.tflite.metadata import edgeconv_info


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_image_folder_preprocessing_is_stored_and_reused(chain, digit_pngs, tmp_path):
    out = tmp_path / "m.tflite"
    result = run("convert", chain.keras_path, "--data", digit_pngs, "--scale", "1/255", "-o", out)
    assert result.exit_code == 0, result.output
    info = edgeconv_info(out.read_bytes())
    assert info["preprocess"]["scale"] == pytest.approx(1 / 255) and info["outputs"] == ["probs"]
    assert info["classes"] == sorted(info["classes"])
    # validation applies the stored spec: no --scale needed
    result = run("validate", out, "--reference", chain.keras_path, "--data", digit_pngs, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["sections"]["data"]["preprocess"]["scale"] == pytest.approx(1 / 255)
    assert doc["sections"]["validation"]["agreement"] > 0.9
    assert doc["sections"]["validation"]["reference_accuracy"] > 0.6


def test_raw_pixels_warn(chain, digit_pngs, tmp_path):
    result = run("convert", chain.keras_path, "--data", digit_pngs, "-o", tmp_path / "m.tflite", "--json")
    assert result.exit_code == 0, result.output
    assert "Warning: data values span 0..255 in whole numbers, like raw pixels" in result.stderr
    assert json.loads(result.stdout)["warnings"][0].startswith("data values span 0..255")


def test_a_model_that_rescales_its_input_takes_raw_pixels_without_warning(digit_pngs, tmp_path):
    """A backbone that starts with its own Rescaling, nested as in transfer learning: 0..255 is
    what it expects, so no raw-pixel warning."""
    keras = keras_env.keras()
    keras.utils.set_random_seed(0)
    backbone = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
                                 keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Flatten()])
    inputs = keras.Input((8, 8, 1))
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(backbone(inputs))).save(tmp_path / "t.keras")
    result = run("convert", tmp_path / "t.keras", "--data", digit_pngs, "-o", tmp_path / "m.tflite")
    assert result.exit_code == 0, result.output
    assert "like raw pixels" not in result.stderr


def test_raw_pixels_warn_when_the_models_own_scaling_expects_zero_to_one(digit_pngs, tmp_path):
    """Normalization adapted on x/255: 0..255 comes out of it far from normalised."""
    keras = keras_env.keras()
    keras.utils.set_random_seed(0)
    normalize = keras.layers.Normalization()
    normalize.adapt(np.random.default_rng(0).random((64, 8, 8, 1)))
    keras.Sequential([keras.Input((8, 8, 1)), normalize, keras.layers.Flatten(),
                      keras.layers.Dense(10, activation="softmax")]).save(tmp_path / "n.keras")
    result = run("convert", tmp_path / "n.keras", "--data", digit_pngs, "-o", tmp_path / "m.tflite")
    assert result.exit_code == 0, result.output
    assert "Warning: data values span 0..255, which the model's own Normalization maps to" in result.stderr


@pytest.mark.parametrize("application, scaling", [("MobileNetV3Small", ["Rescaling"]),
                                                  ("EfficientNetB0", ["Rescaling", "Normalization"]),
                                                  ("ConvNeXtTiny", ["Normalization"]), ("MobileNetV2", [])])
def test_the_input_scaling_of_keras_applications_is_found(application, scaling):
    from converter.inputs.models import input_scaling_layers

    keras = keras_env.keras()
    model = getattr(keras.applications, application)(input_shape=(32, 32, 3), weights=None, include_top=False)
    assert [type(layer).__name__ for layer in input_scaling_layers(model)] == scaling
    keras.backend.clear_session()


def test_csv_tabular_model(tmp_path):
    keras = keras_env.keras()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 3)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=20, verbose=0)
    model.save(tmp_path / "tab.keras")
    lines = ["f0,f1,target,f2"] + [f"{a},{b},{'yes' if t else 'no'},{c}" for (a, b, c), t in zip(x, y)]
    (tmp_path / "tab.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "tab.tflite"
    result = run("convert", tmp_path / "tab.keras", "--data", tmp_path / "tab.csv", "--label-column", "target",
                 "-o", out)
    assert result.exit_code == 0, result.output
    assert edgeconv_info(out.read_bytes())["classes"] == ["no", "yes"]
    result = run("validate", out, "--reference", tmp_path / "tab.keras", "--data", tmp_path / "tab.csv",
                 "--label-column", "target", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sections"]["validation"]["agreement"] > 0.9


@pytest.mark.parametrize("args, message", [
    (["--scale", "abc"], "'abc' is not a number or a fraction like 1/255"),
    (["--resize", "12"], "'12' is not HEIGHTxWIDTH, e.g. 224x224"),
    (["--mean", "1,x"], "'1,x' is not a comma-separated list of numbers"),
])
def test_bad_preprocessing_options_are_usage_errors(chain, tmp_path, args, message):
    result = run("convert", chain.keras_path, "--data", chain.train_npz, "-o", tmp_path / "m.tflite", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_mean_without_std_is_refused(chain, tmp_path):
    result = run("convert", chain.keras_path, "--data", chain.train_npz, "-o", tmp_path / "m.tflite", "--mean", "0.5")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == "Error: --mean and --std go together"
