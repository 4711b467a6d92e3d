"""QAT that pays: it starts from calibrated activation ranges and learns without labels from
the float model (converter/optimize/qat_ranges.py, optimize/qat.py)."""
import re

import numpy as np
import pytest

from converter import keras_env
from converter.errors import ModelError
from converter.export.tflite import ConvertOptions, convert
from converter.inputs.data import Dataset
from converter.optimize.qat import QatOptions, qat
from converter.optimize.qat_ranges import start_from_calibrated_ranges
from converter.optimize.train import TrainOptions
from converter.targets.host import HostSession

FAST = TrainOptions(epochs=2, batch_size=64, schedule="cosine")


def int8_accuracy(model, train: Dataset, test: Dataset) -> float:
    with HostSession(convert(model, train, ConvertOptions(samples=100)).tflite) as session:
        scores = next(iter(session.predict([test.x]).values()))
    return float(np.mean(scores.argmax(axis=1) == test.y))


@pytest.fixture(scope="module")
def ptq_accuracy(chain, digits):
    return int8_accuracy(chain.model, *digits)


def test_calibrated_start_gives_the_ptq_model_before_any_training(chain, digits, ptq_accuracy):
    quantize_model = keras_env.tfmot().quantization.keras.quantize_model
    tfmot_start = quantize_model(chain.model)
    assert int8_accuracy(tfmot_start, *digits) < 0.2  # input range [0, 0], activations [-6, 6]: unusable
    calibrated = quantize_model(chain.model)
    assert start_from_calibrated_ranges(calibrated, digits[0]) == 5  # input, conv1, conv2, dense, probs
    ranges = {re.sub(r"_\d+(?=[/_:])", "", v.name): float(v.numpy())  # names without Keras' _1 suffixes
              for v in calibrated.non_trainable_variables if v.shape.rank == 0}
    assert ranges["quantize_layer/quantize_layer_max:0"] == pytest.approx(float(digits[0].x.max()))
    assert ranges["quant_conv1/post_activation_min:0"] == 0.0  # a ReLU output: 0 is its minimum
    # close to PTQ, not equal: TFMOT quantizes Dense weights per tensor, PTQ per channel (1.1 points
    # on this chain, up to 3.9 on chains of other seeds)
    assert abs(int8_accuracy(calibrated, *digits) - ptq_accuracy) <= 0.05


def test_qat_learns_from_the_float_model_without_labels(chain, digits, ptq_accuracy):
    train, test = digits
    result = qat(chain.model, Dataset(train.x, None, "unlabelled"), QatOptions(train=FAST))
    summary = result.summary()
    assert summary["applied"] and summary["trained_on"] == "teacher" and summary["calibrated_ranges"] == 5
    assert int8_accuracy(result.model, train, test) >= ptq_accuracy - 0.01


def test_qat_with_labels_keeps_the_ptq_accuracy(chain, digits, ptq_accuracy):
    result = qat(chain.model, digits[0], QatOptions(train=FAST))
    assert result.summary()["trained_on"] == "labels"
    assert int8_accuracy(result.model, *digits) >= ptq_accuracy - 0.01


def test_teacher_qat_matches_dense_outputs_by_mean_squared_error(digits):
    keras = keras_env.keras()
    keras_env.seed_everything(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="map")(x))  # a dense-prediction head
    result = qat(model, Dataset(digits[0].x, None, "unlabelled"), QatOptions(train=FAST))
    assert result.summary()["trained_on"] == "teacher" and result.accuracy_after is None
    assert 0 <= result.metrics["loss"] < 0.01  # the fake-quantized copy tracks the float map closely


def test_training_that_hurts_is_undone_back_to_the_calibrated_start(chain, digits, ptq_accuracy):
    wild = TrainOptions(epochs=2, batch_size=64, learning_rate=1.0, patience=0)  # diverges at once
    result = qat(chain.model, digits[0], QatOptions(train=wild))
    assert result.kept_epoch == 0
    assert abs(int8_accuracy(result.model, *digits) - ptq_accuracy) <= 0.05  # the calibrated start, as above


def _sensor_data(count=384, seed=0) -> Dataset:
    """Which of two channels of a noisy 64-step signal carries the stronger slow wave."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, count)
    t = np.arange(64) / 64
    wave = np.sin(2 * np.pi * 3 * t)[None, :] * rng.uniform(0.5, 1.5, (count, 1))
    x = rng.normal(0, 0.5, (count, 64, 2))
    x[np.arange(count), :, y] += wave
    return Dataset(x.astype(np.float32), y.astype(np.int64), "sensor", ("first", "second"))


def _sensor_cnn():
    """Conv1D, MaxPooling1D and a squeeze-excite Multiply: what TFMOT's registry leaves out."""
    keras = keras_env.keras()
    layers = keras.layers
    i = keras.Input((64, 2), name="signal")
    x = layers.MaxPooling1D(2, name="pool1d")(layers.Conv1D(8, 5, activation="relu", name="conv1d_a")(i))
    x = layers.Conv1D(8, 3, padding="same", activation="swish", name="conv1d_b")(x)
    gate = layers.Dense(8, activation="sigmoid", name="gate")(layers.GlobalAveragePooling1D(name="squeeze")(x))
    x = layers.Multiply(name="excite")([x, layers.Reshape((1, 8), name="gate_shape")(gate)])
    out = layers.Dense(2, activation="softmax", name="probs")(layers.GlobalAveragePooling1D(name="pool")(x))
    model = keras.Model(i, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_qat_annotates_maxpooling1d_and_converts_to_full_int8():
    """TFMOT's registry leaves MaxPooling1D out; ours passes it through as TFMOT does
    MaxPooling2D. Conv1D and Multiply stay with the registry (measured: qat_configs.py)."""
    keras_env.seed_everything(0)
    train, test = _sensor_data(), _sensor_data(128, seed=1)
    model = _sensor_cnn()
    model.fit(train.x, train.y, epochs=8, batch_size=32, verbose=0)
    result = qat(model, train, QatOptions(train=FAST))
    actions = {item.layer: (item.supported, item.action) for item in result.lint}
    assert actions["pool1d"] == (True, "fake-quantized during training by edgeconv's config "
                                       "(TFMOT's registry leaves MaxPooling1D out)")
    assert not actions["conv1d_a"][0] and not actions["excite"][0]
    assert "quant_pool1d" in {layer.name for layer in result.model.layers}
    converted = convert(result.model, train, ConvertOptions(samples=100))
    assert converted.proof.ok, converted.proof
    with HostSession(converted.tflite) as session:
        int8 = next(iter(session.predict([test.x]).values())).argmax(axis=1)
    assert np.mean(int8 == test.y) >= 0.8  # 0.85-1.00 over 6 seeds (chance: 0.5)


def test_qat_of_separableconv1d_is_applied_not_refused_by_keras_safe_mode():
    """TFMOT's SeparableConv1D transform adds Lambda layers of its own and clones the graph,
    which tf_keras' safe mode refused: QAT of such a model fell back to PTQ."""
    keras = keras_env.keras()
    layers = keras.layers
    keras_env.seed_everything(0)
    train = _sensor_data()
    i = keras.Input((64, 2), name="signal")
    x = layers.SeparableConv1D(8, 5, padding="same", activation="relu", name="sep1d")(i)
    out = layers.Dense(2, activation="softmax", name="probs")(layers.GlobalAveragePooling1D(name="pool")(x))
    model = keras.Model(i, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(train.x, train.y, epochs=4, verbose=0)
    result = qat(model, train, QatOptions(train=FAST))
    assert result.fallback is None and result.annotation == "whole model"
    assert {i.layer: i.action for i in result.lint}["sep1d"].startswith("split into depthwise + pointwise")
    converted = convert(result.model, train, ConvertOptions(samples=100))
    assert converted.proof.ok
    with HostSession(converted.tflite) as session:
        int8 = next(iter(session.predict([train.x]).values())).argmax(axis=1)
    assert np.mean(int8 == np.asarray(result.model.predict(train.x, verbose=0)).argmax(axis=1)) >= 0.95


def test_a_one_unit_sigmoid_classifier_is_trained_on_binary_labels():
    """Labels 0/1 on one sigmoid unit: sparse categorical cross-entropy rejected label 1 (a
    TensorFlow InvalidArgumentError, exit 4), and argmax of one column scored class 0 always."""
    from converter.optimize.prune import PruneOptions, prune

    keras = keras_env.keras()
    keras_env.seed_everything(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    data = Dataset(x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int), "binary")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.fit(data.x, data.y, epochs=60, verbose=0)
    result = qat(model, data, QatOptions(train=TrainOptions(epochs=1, learning_rate=1e-4)))
    assert result.fallback is None and result.accuracy_before > 0.85, result.accuracy_before  # argmax: ~0.5
    assert result.accuracy_after > 0.85
    prune(model, data, PruneOptions(sparsity=0.5, train=TrainOptions(epochs=1)))  # trains without an error
    prune(model, data, PruneOptions(sparsity=0.5, block=(4, 1), train=TrainOptions(epochs=1)))  # the 1-unit head too


def test_teacher_qat_learns_every_output_of_a_two_headed_model(digits):
    """A class head (probabilities) and a regression head: each output is learnt with its own
    loss, and the result converts to a fully-integer model that tracks both."""
    keras = keras_env.keras()
    keras_env.seed_everything(0)
    train, test = digits
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs))
    model = keras.Model(inputs, [keras.layers.Dense(10, activation="softmax", name="digit")(x),
                                 keras.layers.Dense(1, name="ink")(x)], name="two_heads")
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    model.fit(train.x, [train.y, train.x.mean(axis=(1, 2, 3))], epochs=5, verbose=0)
    with pytest.raises(ModelError, match="QAT trains one labelled output; the model 'two_heads' has 2") as refused:
        qat(model, train, QatOptions(train=FAST))  # labels are for one output
    assert refused.value.hint.endswith("targets teacher (--targets teacher, or qat: {targets: teacher} in a recipe)")
    result = qat(model, train, QatOptions(train=FAST, targets="teacher"))
    assert result.summary()["applied"] and result.summary()["trained_on"] == "teacher"
    assert result.accuracy_after is None
    converted = convert(result.model, train, ConvertOptions(samples=100))
    assert converted.proof.ok
    float_digit, float_ink = model.predict(test.x, verbose=0)
    with HostSession(converted.tflite) as session:
        out = session.predict([test.x])
    digit, ink = out["digit"], out["ink"]  # the float model's output names
    from converter.targets.keras import KerasSession

    assert KerasSession(result.model).output_names == ["digit", "ink"]  # the QAT model as a reference matches
    assert np.mean(digit.argmax(axis=1) == float_digit.argmax(axis=1)) > 0.95
    assert np.corrcoef(ink.ravel(), float_ink.ravel())[0, 1] > 0.95


def test_teacher_qat_refuses_dict_outputs_clearly(digits):
    keras = keras_env.keras()
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, {"digit": keras.layers.Dense(10)(x), "ink": keras.layers.Dense(1)(x)}, name="dict_heads")
    with pytest.raises(ModelError, match="QAT learns a list of outputs; the model 'dict_heads' returns a dict of them"):
        qat(model, Dataset(digits[0].x, None, "unlabelled"), QatOptions(train=FAST, targets="teacher"))
