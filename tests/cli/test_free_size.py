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
    assert "the model's input size is free, so there is no size to time it at" in result.stderr
    assert "convert the Keras model again with `edgeconv convert`" in result.stderr


def test_a_free_size_model_with_state_runs_each_sample_from_its_initial_state():
    """An LSTM's state tensors are variables, reset before each sample: not before the first
    allocation, which a free-size model gets at its first batch."""
    from converter.targets.host import HostSession

    keras, tf = keras_env.keras(), keras_env.tf()
    keras.utils.set_random_seed(0)
    seq, image = keras.Input((5, 4), name="seq", batch_size=1), keras.Input((None, None, 3), name="img", batch_size=1)
    joined = keras.layers.Concatenate()([keras.layers.LSTM(3)(seq), keras.layers.GlobalAveragePooling2D()(image)])
    model = keras.Model([seq, image], keras.layers.Dense(2)(joined))
    rng = np.random.default_rng(0)
    x = {"seq": rng.random((4, 5, 4), dtype=np.float32), "img": rng.random((4, 7, 7, 3), dtype=np.float32)}
    with HostSession(tf.lite.TFLiteConverter.from_keras_model(model).convert()) as session:
        assert any(t.is_variable for t in session.info.main.tensors)
        ordered = [x[name] for name in session.input_names]
        first, again = session.predict(ordered), session.predict(ordered)
    (out,) = first.values()
    np.testing.assert_allclose(out, model.predict([x["seq"], x["img"]], verbose=0), atol=1e-5)
    np.testing.assert_array_equal(out, next(iter(again.values())))


def test_other_targets_refuse_a_free_size_model_clearly(free_size):
    """The emulated arm64 runner (like an ssh board's) loads the file as it is: XNNPACK failed to prepare."""
    result = CliRunner().invoke(cli, ["validate", str(free_size / "free.tflite"), "--reference",
                                      str(free_size / "free.keras"), "--data", str(free_size / "data16.npz"),
                                      "--target", "micro"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == "Error: input(s) image have a free size, which only the host runtime sizes to the data"
