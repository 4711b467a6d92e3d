"""Conversion on real TensorFlow: modes, I/O types, determinism, model kinds, refusals."""
import numpy as np
import pytest

from converter import keras_env
from converter.inputs.data import Dataset
from converter.errors import ConversionError, DataError
from converter.export.tflite import ConvertOptions, convert
from converter.targets.host import HostRuntime
from converter.targets.keras import KerasSession
from converter.verify.compare import compare


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.default_rng(0)
    return Dataset(rng.random((64, 6), dtype=np.float32), None, "random")


def test_int8_is_deterministic_and_proven(chain, digits):
    train, _ = digits
    a = convert(chain.model, train, ConvertOptions(samples=50, seed=3))
    b = convert(chain.model, train, ConvertOptions(samples=50, seed=3))
    assert a.tflite == b.tflite
    assert a.proof.ok and a.summary()["fully_integer"] is True
    assert a.calibration_samples == 50


def test_convert_frees_its_traced_graphs(chain, digits):
    """TF graphs are reference cycles: left to Python's rare full collections they piled up
    to hundreds of MB over a few dozen conversions in one process."""
    import gc

    convert(chain.model, digits[0], ConvertOptions(samples=20))
    gc.set_debug(gc.DEBUG_SAVEALL)  # what this collection finds unreachable is kept in gc.garbage
    try:
        gc.collect()
        left = [o for o in gc.garbage if type(o).__name__ in ("Operation", "FuncGraph", "ConcreteFunction")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


@pytest.mark.parametrize("mode, io, in_dtype, ops_without", [
    ("int8", "uint8", "uint8", None),
    ("int8", "float32", "float32", None),
    ("int16x8", "int8", "int16", None),
    ("float16", "int8", "float32", None),
    ("dynamic", "int8", "float32", None),
])
def test_modes_and_io_types(chain, digits, mode, io, in_dtype, ops_without):
    from converter.tflite.reader import read_model

    r = convert(chain.model, digits[0], ConvertOptions(mode=mode, io_type=io, samples=20))
    info = read_model(r.tflite)
    assert info.main.tensor(info.main.inputs[0]).dtype == in_dtype
    assert info.main.tensor(info.main.outputs[0]).dtype == in_dtype
    if mode in ("int8", "int16x8"):
        assert r.proof.ok
    if mode == "float16":
        assert any(t.dtype == "float16" and t.is_constant for t in info.main.tensors)
    # every mode still classifies the digits like the float model
    v = compare(KerasSession(chain.model), HostRuntime().open(r.tflite), digits[1])
    assert v.agreement > 0.9


def test_per_tensor_has_one_scale_per_weight_tensor(chain, digits):
    from converter.tflite.reader import read_model

    sg = read_model(convert(chain.model, digits[0], ConvertOptions(per_channel=False, samples=20)).tflite).main
    conv = next(op for op in sg.operators if op.op == "CONV_2D")
    assert len(sg.tensor(conv.inputs[1]).scales) == 1


def test_multi_output_model_keeps_names_when_converter_reorders(tabular):
    keras = keras_env.keras()
    keras_env.seed_everything(0)
    i = keras.Input((6,), name="features")
    h = keras.layers.Dense(8, activation="relu")(i)
    outs = [keras.layers.Dense(n, name=name)(h) for n, name in ((3, "zeta"), (5, "alpha"), (1, "mid"))]
    model = keras.Model(i, outs)
    r = convert(model, tabular, ConvertOptions())
    assert sorted(r.output_names) == ["alpha", "mid", "zeta"]
    assert r.output_names != ["zeta", "alpha", "mid"]  # the converter did reorder them
    v = compare(KerasSession(model), HostRuntime().open(r.tflite), tabular)
    assert [(o.reference, o.candidate) for o in v.outputs] == [("zeta", "zeta"), ("alpha", "alpha"), ("mid", "mid")]
    assert all(o.cosine > 0.99 for o in v.outputs)


def test_multi_input_model(tabular):
    keras = keras_env.keras()
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    out = keras.layers.Dense(2, name="y")(keras.layers.Add()([a, b]))
    ds = Dataset((tabular.x, tabular.x[::-1].copy()), None, "t")
    with pytest.raises(DataError, match="the model has 2 inputs but bad gives 1 array"):
        convert(keras.Model([a, b], out), Dataset(np.zeros((4, 3), np.float32), None, "bad"), ConvertOptions())
    r = convert(keras.Model([a, b], out), ds, ConvertOptions())
    assert r.proof.ok and len(r.info.main.inputs) == 2


def test_subclassed_model_converts_through_concrete_function(tabular):
    keras, tf = keras_env.keras(), keras_env.tf()

    class Classifier(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)

        def call(self, x):
            return tf.nn.softmax(self.dense(x))

    model = Classifier()
    model(tabular.x[:1])
    r = convert(model, tabular, ConvertOptions())
    assert r.proof.ok and r.output_names == ["output_0"]
    assert compare(KerasSession(model), HostRuntime().open(r.tflite), tabular).agreement > 0.9


@pytest.mark.parametrize("fn, message", [
    ("cos", r"not fully integer: op #1 COS \(layer 'lambda\w*'\) computes in float"),
    ("erf", "no builtin kernel for: Erf"),
])
def test_models_that_cannot_be_fully_integer_name_the_op(tabular, fn, message):
    keras, tf = keras_env.keras(), keras_env.tf()
    i = keras.Input((6,))
    model = keras.Model(i, keras.layers.Dense(4)(keras.layers.Lambda(getattr(tf.math, fn))(i)))
    with pytest.raises(ConversionError, match=message):
        convert(model, tabular, ConvertOptions())


def test_calibrating_modes_need_data(chain):
    with pytest.raises(ConversionError, match="needs representative data"):
        convert(chain.model, None, ConvertOptions(mode="int16x8"))


def test_multi_input_calibration_feeds_each_input_by_name():
    """The converter may order inputs differently from Keras; calibration data must still
    reach the input it belongs to (else ranges are silently swapped)."""
    keras = keras_env.keras()
    a, b = keras.Input((4,), name="image"), keras.Input((4,), name="vector")
    model = keras.Model([a, b], keras.layers.Add()([keras.layers.Dense(3)(a), keras.layers.Dense(3)(b)]))
    rng = np.random.default_rng(0)
    data = Dataset((rng.random((64, 4), dtype=np.float32), 100 * rng.random((64, 4), dtype=np.float32)), None, "r")
    info = convert(model, data, ConvertOptions(samples=64)).info
    scales = {info.main.tensor(i).name: info.main.tensor(i).scales[0] for i in info.main.inputs}
    image = next(v for k, v in scales.items() if "image" in k)
    vector = next(v for k, v in scales.items() if "vector" in k)
    assert image < 0.01 and vector > 0.3, scales
