"""Recurrent models to int8 (export/recurrent.py: their loops crash TF's calibrator, so they
are unrolled, proven equal, then converted) and subclassed models read back from .keras."""
import numpy as np
import pytest

from converter import keras_env
from converter.errors import ConversionError
from converter.export import recurrent
from converter.export.tflite import ConvertOptions, convert
from converter.inputs.data import Dataset
from converter.targets.host import HostRuntime
from converter.targets.keras import KerasSession
from converter.verify.compare import compare

STEPS, FEATURES = 10, 6


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(0)
    return Dataset(rng.uniform(-1, 1, (48, STEPS, FEATURES)).astype(np.float32), np.arange(48) % 4, "random")


def _model(layer, steps=STEPS):
    keras = keras_env.keras()
    keras_env.seed_everything(0)
    i = keras.Input((steps, FEATURES))
    # wide logits: an untrained model's near-uniform softmax would make top-1 agreement a coin toss
    head = keras.layers.Dense(4, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))
    return keras.Model(i, head(layer(i)))


LAYERS = {
    "lstm": lambda L: L.LSTM(12),
    "gru": lambda L: L.GRU(12),
    "bidirectional_lstm": lambda L: L.Bidirectional(L.LSTM(8)),
}


@pytest.mark.parametrize("kind", list(LAYERS))
def test_recurrent_models_convert_to_proven_int8(sequences, kind):
    model = _model(LAYERS[kind](keras_env.keras().layers))
    r = convert(model, sequences, ConvertOptions(samples=32))
    summary = r.summary()
    assert r.proof.ok and summary["fully_integer"] is True
    assert "WHILE" not in r.info.op_counts()
    unrolled = summary["recurrent_unrolled"]
    assert unrolled["layers"] and unrolled["max_abs_diff"] <= 1e-5 and unrolled["proof_samples"] == 16
    assert "unrolled for conversion" in summary["warnings"][0]
    assert not any(layer.unroll for layer in recurrent._walk(model)
                   if isinstance(layer, keras_env.keras().layers.RNN))  # the user's model is left as it was
    v = compare(KerasSession(model), HostRuntime().open(r.tflite), sequences)
    print(kind, "max_abs_diff", unrolled["max_abs_diff"], "agreement", v.agreement, "cosine", v.outputs[0].cosine)
    assert v.agreement >= 0.9 and v.outputs[0].cosine > 0.99, (v.agreement, v.outputs[0].cosine)


def test_free_time_dimension_is_fixed_from_the_data(sequences):
    r = convert(_model(keras_env.keras().layers.GRU(8), steps=None), sequences, ConvertOptions(samples=16))
    assert r.proof.ok
    assert r.summary()["input_shapes_fixed_from_data"] == [[STEPS, FEATURES]]
    assert r.summary()["recurrent_unrolled"]["input_shapes"] == [[STEPS, FEATURES]]


def test_stateful_recurrent_models_are_refused_with_the_reason():
    keras = keras_env.keras()
    i = keras.Input(batch_shape=(1, 4, FEATURES))
    model = keras.Model(i, keras.layers.GRU(8, stateful=True, name="stream")(i))
    data = Dataset(np.zeros((8, 4, FEATURES), np.float32), None, "zeros")
    with pytest.raises(ConversionError, match=r"stateful recurrent layers \(stream\).*cannot be fully integer") as e:
        convert(model, data, ConvertOptions(samples=4))
    assert "stateful=False" in e.value.hint


def test_subclassed_models_with_loops_are_refused_before_the_converter_crashes(sequences):
    keras = keras_env.keras()

    class Tagger(keras.Model):
        def __init__(self):
            super().__init__(name="tagger")
            self.rnn, self.head = keras.layers.LSTM(8), keras.layers.Dense(4)

        def call(self, x):
            return self.head(self.rnn(x))

    model = Tagger()
    model(sequences.x[:1])
    with pytest.raises(ConversionError, match="subclassed model 'tagger' has recurrent layers") as e:
        convert(model, sequences, ConvertOptions(samples=4))
    assert "unroll=True" in e.value.hint


def test_a_rebuild_that_computes_otherwise_is_refused(sequences, monkeypatch):
    model = _model(keras_env.keras().layers.SimpleRNN(8))
    other = _model(keras_env.keras().layers.SimpleRNN(8))
    other.set_weights([w + 0.5 for w in model.get_weights()])
    monkeypatch.setattr(recurrent, "_rebuild", lambda m, shapes: other)
    with pytest.raises(ConversionError, match="unrolled computes other outputs than the original"):
        recurrent.unroll(model, [(None, STEPS, FEATURES)], sequences)


def test_nested_recurrent_block_is_unrolled_with_its_weights(sequences):
    keras = keras_env.keras()
    keras_env.seed_everything(1)
    bi = keras.Input((STEPS, FEATURES))
    block = keras.Model(bi, keras.layers.LSTM(8)(bi), name="encoder")
    i = keras.Input((STEPS, FEATURES))
    model = keras.Model(i, keras.layers.Dense(3)(block(i)))
    rebuilt, unrolled = recurrent.unroll(model, [(None, STEPS, FEATURES)], sequences)
    assert unrolled.layers == [block.layers[1].name] and unrolled.max_abs_diff <= 1e-5
    assert rebuilt.get_layer("encoder") is not block and rebuilt.get_layer("encoder").layers[1].unroll


def test_subclassed_model_saved_to_keras_converts_with_its_code(tmp_path):
    """tf_keras builds such a model from the input shape its file records (build_config)
    instead of calling it, so it comes back without the save spec a call leaves."""
    from converter.inputs.models import input_shapes, load
    from converter.inputs.user_code import import_code

    code = tmp_path / "tiny_sub.py"
    code.write_text(
        "from converter import keras_env\nkeras = keras_env.keras()\n\n"
        "@keras.saving.register_keras_serializable('test_recurrent')\n"
        "class TinySub(keras.Model):\n"
        "    def __init__(self, **kw):\n"
        "        super().__init__(**kw)\n"
        "        self.dense = keras.layers.Dense(3, activation='softmax')\n"
        "    def call(self, x):\n"
        "        return self.dense(x)\n"
        "    def get_config(self):\n"
        "        return {}\n")
    cls = import_code((str(code),))["TinySub"]
    model = cls()
    x = np.random.default_rng(0).random((32, 5), dtype=np.float32)
    model(x[:2])
    model.save(tmp_path / "sub.keras")
    loaded = load(tmp_path / "sub.keras", code=(str(code),)).model
    assert input_shapes(loaded) == [(None, 5)]
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)  # its weights came back
    data = Dataset(x, None, "random")
    r = convert(loaded, data, ConvertOptions(samples=16))
    assert r.proof.ok
    assert compare(KerasSession(loaded), HostRuntime().open(r.tflite), data).outputs[0].cosine > 0.99
    from converter.errors import ModelError
    from converter.optimize.distill import check_known_inputs

    with pytest.raises(ModelError, match="the teacher is a subclassed model without known inputs"):
        check_known_inputs(loaded, "teacher")  # what `distill` must say before sizing a student from it
