"""Knowledge distillation: the loss as a hand computation, labelled and unlabelled training."""
import numpy as np
import pytest

from converter import keras_env
from converter.inputs.data import Dataset
from converter.errors import ModelError
from converter.export.tflite import ConvertOptions, convert
from converter.optimize.distill import DistillOptions, distill, distillation_loss, student_template
from converter.optimize.train import TrainOptions


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_loss_matches_a_hand_computation():
    teacher = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], np.float32)
    student = np.array([[1.0, 1.0, 0.0], [0.0, -1.0, 1.5]], np.float32)
    y = np.array([0, 2])
    T, alpha = 3.0, 0.25
    pt, ps = _softmax(teacher / T), _softmax(student / T)
    kl = np.mean(np.sum(pt * (np.log(pt) - np.log(ps)), axis=1)) * T ** 2
    ce = np.mean(-np.log(_softmax(student)[np.arange(2), y]))
    got = float(distillation_loss(y, teacher, student, alpha, T, False, False))
    assert got == pytest.approx(alpha * ce + (1 - alpha) * kl, rel=1e-5)
    assert float(distillation_loss(None, teacher, student, alpha, T, False, False)) == pytest.approx(kl, rel=1e-5)
    # a teacher that outputs probabilities gives the same loss as its logits
    probs = float(distillation_loss(y, _softmax(teacher), student, alpha, T, True, False))
    assert probs == pytest.approx(got, rel=1e-4)


@pytest.fixture(scope="module")
def teacher(chain):
    return chain.model  # ends in softmax: probabilities


def test_labelled_distillation_trains_a_template_student(teacher, digits):
    train, test = digits
    keras_env.seed_everything(0)  # the student's initial weights
    student = student_template("tiny_cnn", (8, 8, 1), 10, width=0.5)
    result = distill(teacher, student, train, DistillOptions(train=TrainOptions(epochs=8, patience=0)))
    assert (result.teacher_outputs, result.student_outputs) == ("probabilities", "logits")
    assert result.metrics["accuracy"] > 0.7  # 0.86-0.90 over 8 seeds
    converted = convert(result.student, train, ConvertOptions(samples=50))
    assert converted.proof.ok


def test_unlabelled_distillation_lowers_the_loss(teacher, digits):
    train, _ = digits
    unlabelled = Dataset(train.x, None, "x.npy")
    student = student_template("tiny_mlp", (8, 8, 1), 10, width=1)
    short = distill(teacher, student, unlabelled, DistillOptions(train=TrainOptions(epochs=1, patience=0)))
    longer = distill(teacher, student, unlabelled, DistillOptions(train=TrainOptions(epochs=4, patience=0)))
    assert longer.metrics["loss"] < short.metrics["loss"]


def test_hint_loss_between_named_layers(teacher, digits):
    keras = keras_env.keras()
    student = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, padding="same", name="s_conv"),
                                keras.layers.Flatten(), keras.layers.Dense(10)])
    result = distill(teacher, student, digits[0], DistillOptions(hint=("conv1", "s_conv"),
                                                                 train=TrainOptions(epochs=1, patience=0)))
    assert result.metrics["loss"] > 0
    with pytest.raises(ModelError, match="the teacher has no layer 'nope'"):
        distill(teacher, student, digits[0], DistillOptions(hint=("nope", "s_conv")))


def test_incompatible_student_is_refused(teacher, digits):
    with pytest.raises(ModelError, match=r"the student's output shape \(3,\) differs from the teacher's \(10,\)"):
        distill(teacher, student_template("tiny_mlp", (8, 8, 1), 3), digits[0])


def test_a_teacher_with_one_output_value_is_refused_clearly():
    """A sigmoid unit (or a regression) has no class scores to soften: this was exit 4 (a Squeeze error)."""
    keras = keras_env.keras()
    teacher = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    student = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    data = Dataset(np.zeros((16, 8), np.float32), np.zeros(16, int), "binary")
    with pytest.raises(ModelError, match="this teacher outputs one value per sample"):
        distill(teacher, student, data, DistillOptions(train=TrainOptions(epochs=1)))


def test_a_template_student_takes_the_teachers_input_scaling(digits):
    """A teacher that rescales and normalises raw pixels itself: the student copies those layers
    (with the adapted mean and variance), so both take the same raw data."""
    from converter.inputs.models import input_scaling_layers

    keras = keras_env.keras()
    keras.utils.set_random_seed(0)
    train, test = digits
    raw = Dataset(np.round(train.x * 255), train.y, "raw.npz")
    normalize = keras.layers.Normalization()
    normalize.adapt(raw.x / 255)
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255), normalize,
                                keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.Flatten(),
                                keras.layers.Dense(10, activation="softmax")])
    teacher.compile("adam", "sparse_categorical_crossentropy")
    teacher.fit(raw.x, raw.y, epochs=3, verbose=0)
    student = student_template("tiny_cnn", (8, 8, 1), 10, input_scaling=input_scaling_layers(teacher))
    assert [type(layer).__name__ for layer in student.layers[:2]] == ["Rescaling", "Normalization"]
    assert student.layers[0].scale == pytest.approx(1 / 255)
    np.testing.assert_array_equal(student.layers[1].get_weights()[0], normalize.get_weights()[0])
    result = distill(teacher, student, raw, DistillOptions(train=TrainOptions(epochs=3, patience=0)))
    assert result.metrics["accuracy"] > 0.6
