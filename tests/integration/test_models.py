"""Model intake: every supported format, Keras 3 files rebuilt and proven, unsafe code refused."""
import numpy as np
import pytest

from converter import keras_env
from converter.inputs.data import Dataset
from converter.errors import ModelError
from converter.export.tflite import ConvertOptions, convert
from converter.inputs.models import load, load_model


def _randomise(model, seed=0):
    """Non-trivial weights, BatchNorm statistics included, so equality proofs mean something."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) if "batch" in layer.name
                           else rng.standard_normal(w.shape).astype(w.dtype) * 0.3 for w in ws])


@pytest.fixture(scope="module")
def keras3_files(tmp_path_factory):
    k3 = keras_env.keras3()
    root = tmp_path_factory.mktemp("k3")
    i = k3.Input((8, 8, 1), name="image")
    a = k3.layers.Conv2D(4, 3, padding="same", name="conv_a")(i)
    b = k3.layers.BatchNormalization(name="batchnorm")(a)
    b = k3.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_b")(b)
    x = k3.layers.Add(name="residual")([a, b])
    x = k3.layers.Flatten(name="flat")(x)
    func = k3.Model(i, k3.layers.Dense(10, activation="softmax", name="probs")(x), name="k3_functional")
    seq = k3.Sequential([k3.Input((6,)), k3.layers.Dense(8, activation="relu"), k3.layers.BatchNormalization(),
                         k3.layers.Dense(3)], name="k3_sequential")
    for m in (func, seq):
        _randomise(m)
        m.save(root / f"{m.name}.keras")
    return root / "k3_functional.keras", root / "k3_sequential.keras"


def test_keras3_functional_is_rebuilt_and_proven(keras3_files):
    loaded = load(keras3_files[0])
    assert loaded.keras_version == 3 and loaded.kind == "Functional"
    assert isinstance(loaded.model, keras_env.keras().Model)  # tf_keras, usable by TFMOT
    assert loaded.intake["max_abs_diff"] <= loaded.intake["tolerance"]
    assert [layer.name for layer in loaded.model.layers][1:] == ["conv_a", "batchnorm", "conv_b", "residual",
                                                                  "flat", "probs"]
    x = np.random.default_rng(1).random((16, 8, 8, 1), dtype=np.float32)
    result = convert(loaded.model, Dataset(x, None, "r"), ConvertOptions())
    assert result.proof.ok and result.output_names == ["probs"]


def test_keras3_sequential_matches_original(keras3_files):
    loaded = load(keras3_files[1])
    assert loaded.kind == "Sequential"
    original = keras_env.keras3().saving.load_model(keras3_files[1])
    x = np.random.default_rng(2).standard_normal((32, 6)).astype(np.float32)
    np.testing.assert_allclose(loaded.model.predict(x, verbose=0), original.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("suffix", [".h5", ".keras", "savedmodel"])
def test_keras2_formats_round_trip(chain, tmp_path, suffix):
    path = tmp_path / f"m{suffix}" if suffix != "savedmodel" else tmp_path / "saved"
    chain.model.save(path, save_format="tf" if suffix == "savedmodel" else None)
    loaded = load(path)
    assert loaded.format == {".h5": "h5", ".keras": "keras", "savedmodel": "savedmodel"}[suffix]
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.model(x), chain.model(x), atol=1e-6)


def test_keras_model_saved_by_tf_saved_model_loads_by_its_signature(chain, tmp_path):
    keras_env.tf().saved_model.save(chain.model, str(tmp_path / "exported"))
    loaded = load(tmp_path / "exported")
    assert loaded.kind == "signature" and loaded.intake == {"source": "signature", "signature": "serving_default"}
    x = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.model.predict(x), chain.model(x), atol=1e-6)
    assert loaded.model.output_names == chain.model.output_names


def test_lambda_layer_needs_trust(tmp_path):
    keras = keras_env.keras()
    i = keras.Input((4,))
    model = keras.Model(i, keras.layers.Lambda(lambda t: t * 2.0)(i))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelError, match=r"would run code when loaded: layer 'lambda(_\d+)?' is a Lambda layer") as e:
        load_model(tmp_path / "lambda.keras")
    assert "--trust-model" in e.value.hint
    trusted = load_model(tmp_path / "lambda.keras", trust_model=True)
    assert float(trusted(np.ones((1, 4), np.float32))[0, 0]) == 2.0


def test_keras3_lambda_needs_trust(tmp_path):
    k3 = keras_env.keras3()
    i = k3.Input((4,))
    k3.Model(i, k3.layers.Lambda(lambda t: t * 2.0)(i)).save(tmp_path / "l3.keras")
    with pytest.raises(ModelError, match=r"would run code when loaded: layer 'lambda(_\d+)?' is a Lambda layer"):
        load(tmp_path / "l3.keras")


def test_truncated_keras_file(chain, tmp_path):
    data = chain.keras_path.read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError):
        load(tmp_path / "cut.keras")
