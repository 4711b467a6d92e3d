"""A .tflite whose input size is free (TF's converter keeps Keras' (None, None, 3)): the file
holds only placeholder sizes. validate runs it at the data's size, which XNNPACK refused to
prepare at the placeholder; figures that depend on the size are not reported for it."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli


@pytest.fixture(scope="module")
def free_size(tmp_path_factory):
    keras, tf = keras_env.keras(), keras_env.tf()
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("free_size")
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x)))
    model.save(root / "free.keras")
    (root / "free.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    for size in (16, 24):
        x = np.random.default_rng(size).random((20, size, size, 3)).astype(np.float32)
        np.savez(root / f"data{size}.npz", x=x, y=np.argmax(model.predict(x, verbose=0), 1))
    return root


@pytest.mark.parametrize("size", [16, 24])
def test_validate_runs_a_free_size_model_at_the_datas_size(free_size, size):
    result = CliRunner().invoke(cli, ["validate", str(free_size / "free.tflite"), "--reference",
                                      str(free_size / "free.keras"), "--data", str(free_size / f"data{size}.npz"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["sections"]["validation"]["agreement"] == 1.0
    assert doc["sections"]["validation"]["outputs"][0]["cosine"] > 0.9999
    assert "latency" not in doc["sections"] and "memory" not in doc["sections"]
    assert doc["warnings"][0].startswith("input(s) image have a free size: accuracy was measured at the data's size")


def test_bench_of_a_free_size_model_says_what_to_do(free_size):
    result = CliRunner().invoke(cli, ["bench", str(free_size / "free.tflite")])
    assert result.exit_code == 3, result.output
    assert "its input size is free, so it has no size to time" in result.stderr
    assert "convert the Keras model again with `edgeconv convert`" in result.stderr
