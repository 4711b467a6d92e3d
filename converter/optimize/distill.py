"""Knowledge distillation: train a small student to mimic a frozen teacher.

Loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(t/T) || softmax(s/T))
(+ beta * MSE(projection(student feature), teacher feature) with a hint). Without labels the
loss is the distillation term alone. Teachers and students may output logits or probabilities;
probabilities are turned back into logits (log) before softening.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset
from ..errors import ModelError
from ..inputs.models import require_keras
from .train import (TrainOptions, check_trainable, copy_model, outputs_probabilities, progress_callbacks,
                    strategy_scope)

EPS = 1e-7
TEMPLATES = ("tiny_cnn", "tiny_mlp")


@dataclass(frozen=True)
class DistillOptions:
    alpha: float = 0.1  # weight of the hard-label loss
    temperature: float = 4.0
    hint: tuple[str, str] | None = None  # (teacher layer, student layer)
    beta: float = 1.0  # weight of the hint loss
    train: TrainOptions = TrainOptions(epochs=20, learning_rate=2e-3, patience=0)

    def __post_init__(self):
        if not 0 <= self.alpha <= 1:
            raise ModelError(f"alpha must be within 0..1, got {self.alpha}", hint="e.g. --alpha 0.1")
        if self.temperature <= 0:
            raise ModelError(f"temperature must be positive, got {self.temperature}", hint="e.g. --temperature 4")


@dataclass
class DistillResult:
    student: object
    teacher_outputs: str  # "logits" or "probabilities"
    student_outputs: str
    metrics: dict

    def summary(self) -> dict:
        return {"teacher_outputs": self.teacher_outputs, "student_outputs": self.student_outputs,
                "metrics": self.metrics}


def as_logits(out, is_probabilities: bool):
    tf = keras_env.tf()
    return tf.math.log(tf.clip_by_value(out, EPS, 1.0)) if is_probabilities else out


def distillation_loss(y, teacher_out, student_out, alpha: float, temperature: float,
                      teacher_probs: bool, student_probs: bool):
    """The per-batch loss; `y` None means unlabelled (distillation term only)."""
    tf = keras_env.tf()
    t = as_logits(teacher_out, teacher_probs) / temperature
    s_logits = as_logits(student_out, student_probs)
    soft_t = tf.nn.softmax(t)
    kl = tf.reduce_mean(tf.reduce_sum(soft_t * (tf.nn.log_softmax(t) - tf.nn.log_softmax(s_logits / temperature)),
                                      axis=-1))
    soft = kl * temperature ** 2
    if y is None:
        return soft
    hard = tf.reduce_mean(keras_env.keras().losses.sparse_categorical_crossentropy(y, s_logits, from_logits=True))
    return alpha * hard + (1 - alpha) * soft


def distill(teacher, student, data: Dataset, options: DistillOptions = DistillOptions()) -> DistillResult:
    _check_compatible(teacher, student, data, options.hint)
    teacher_probs = outputs_probabilities(teacher, data)
    student = copy_model(student)
    student_probs = outputs_probabilities(student, data)
    keras = keras_env.keras()
    keras_env.seed_everything(options.train.seed)
    with strategy_scope(options.train):
        distiller = _Distiller(teacher, student, options, teacher_probs, student_probs)
        distiller.compile(optimizer=keras.optimizers.Adam(options.train.learning_rate))
    x = np.asarray(data.x, np.float32)
    inputs = (x, data.y.astype(np.int64)) if data.y is not None else (x, np.full(len(x), -1, np.int64))
    history = distiller.fit(*inputs, epochs=options.train.epochs, batch_size=options.train.batch_size,
                            verbose=options.train.verbose, shuffle=True,
                            callbacks=progress_callbacks(data, replace(options.train, validation_split=0)))
    return DistillResult(student, _kind(teacher_probs), _kind(student_probs),
                         {k: float(v[-1]) for k, v in history.history.items()})


def _kind(probs: bool) -> str:
    return "probabilities" if probs else "logits"


def _check_compatible(teacher, student, data: Dataset, hint) -> None:
    require_keras(student, "distillation (the student)")
    if hint:
        require_keras(teacher, "distillation with --hint (the teacher's layers)")
        check_known_inputs(teacher, "teacher")  # --hint wires its layers' tensors
    if len(data.inputs) > 1:
        raise ModelError(f"distillation feeds one input; the data has {len(data.inputs)}",
                         hint="distil a single-input model, or convert this one without distillation")
    for name, m in (("teacher", teacher), ("student", student)):
        check_trainable(m, f"distillation (the {name})", labels=False)  # it learns the teacher's outputs
    check_known_inputs(student, "student")
    t_out, s_out = output_shape(teacher, data), tuple(student.outputs[0].shape[1:])
    if t_out == (1,):  # soft targets are a softmax over class scores: one value has none
        raise ModelError("distillation learns the teacher's class scores; this teacher outputs one value per sample "
                         "(a sigmoid unit or a regression)",
                         hint="for a binary classifier, give the teacher and student 2 softmax outputs; or fine-tune "
                              "the student on labels without distillation")
    if t_out != s_out:
        raise ModelError(f"the student's output shape {s_out} differs from the teacher's {t_out}",
                         hint="the student must predict the same classes as the teacher"
                         + (": a built-in student predicts one label per sample, so a teacher with per-position "
                            "outputs (segmentation, sequences) needs a student model file with its output shape"
                            if len(t_out) > 1 and len(s_out) == 1 else ""))
    want = tuple(student.inputs[0].shape[1:])
    if tuple(data.x.shape[1:]) != want:
        raise ModelError(f"data samples have shape {tuple(data.x.shape[1:])} but the student expects {want}",
                         hint="give the student the teacher's input shape")


def output_shape(model, data: Dataset) -> tuple:
    """The first output's shape without the batch. A subclassed model (e.g. one read back from
    .keras) has no output tensors, so it is called on one sample: a teacher needs no more."""
    if getattr(model, "outputs", None):
        return tuple(model.outputs[0].shape[1:])
    out = model(np.asarray(data.inputs[0][:1], np.float32), training=False)
    out = next(iter(out.values())) if isinstance(out, dict) else out[0] if isinstance(out, (list, tuple)) else out
    return tuple(out.shape[1:])


def input_shape(model, data: Dataset) -> tuple:
    """The first input's shape without the batch: the model's, or the data's for a subclassed one."""
    return tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else tuple(data.inputs[0].shape[1:])


def check_known_inputs(model, name: str) -> None:
    """Distillation wires the models' input and output tensors; a subclassed model (e.g. one
    read back from .keras) has none. Callers that size a student from the teacher check first."""
    if not model.inputs:
        raise ModelError(f"the {name} is a subclassed model without known inputs",
                         hint="use Functional or Sequential models for distillation")


class _HintProjection:
    """Learned map from a student feature to the teacher's feature shape (1x1 conv or dense)."""

    @staticmethod
    def build(teacher, student, hint):
        keras = keras_env.keras()
        t_layer, s_layer = (_layer(m, n, who) for m, n, who in ((teacher, hint[0], "teacher"),
                                                               (student, hint[1], "student")))
        t_shape, s_shape = t_layer.output.shape, s_layer.output.shape
        if t_shape[1:-1] != s_shape[1:-1]:
            raise ModelError(f"hint layers differ in spatial shape: teacher {tuple(t_shape[1:])}, "
                             f"student {tuple(s_shape[1:])}", hint="pick layers with the same height and width")
        t_features = keras.Model(teacher.inputs, t_layer.output)
        s_features = keras.Model(student.inputs, [s_layer.output, student.output])
        projection = (keras.layers.Conv2D(t_shape[-1], 1, name="hint_projection") if len(t_shape) == 4
                      else keras.layers.Dense(t_shape[-1], name="hint_projection"))
        return t_features, s_features, projection


def _layer(model, name: str, who: str):
    try:
        return model.get_layer(name)
    except ValueError:
        names = ", ".join(layer.name for layer in model.layers)
        raise ModelError(f"the {who} has no layer '{name}'", hint=f"its layers: {names}") from None


@functools.cache
def _distiller_class():
    keras = keras_env.keras()
    tf = keras_env.tf()

    class Distiller(keras.Model):
        def __init__(self, teacher, student, options, teacher_probs, student_probs):
            super().__init__()
            self.teacher, self.student, self.options = teacher, student, options
            self.teacher_probs, self.student_probs = teacher_probs, student_probs
            self.hint = _HintProjection.build(teacher, student, options.hint) if options.hint else None
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

        @property
        def metrics(self):
            return [self.loss_tracker, self.accuracy]

        def _loss(self, x, y, training):
            labelled = tf.reduce_all(y >= 0)
            teacher_out = self.teacher(x, training=False)
            if self.hint:
                t_features, s_features, projection = self.hint
                s_feat, student_out = s_features(x, training=training)
                hint_loss = tf.reduce_mean(tf.square(projection(s_feat) - t_features(x, training=False)))
            else:
                student_out, hint_loss = self.student(x, training=training), 0.0
            o = self.options
            loss = tf.cond(labelled,
                           lambda: distillation_loss(y, teacher_out, student_out, o.alpha, o.temperature,
                                                     self.teacher_probs, self.student_probs),
                           lambda: distillation_loss(None, teacher_out, student_out, o.alpha, o.temperature,
                                                     self.teacher_probs, self.student_probs))
            return loss + o.beta * hint_loss, student_out

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss, student_out = self._loss(x, y, True)
            weights = self.student.trainable_weights + (self.hint[2].trainable_weights if self.hint else [])
            self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
            return self._update(loss, y, student_out)

        def test_step(self, data):
            x, y = data
            loss, student_out = self._loss(x, y, False)
            return self._update(loss, y, student_out)

        def _update(self, loss, y, student_out):
            self.loss_tracker.update_state(loss)
            self.accuracy.update_state(tf.maximum(y, 0), student_out, sample_weight=tf.cast(y >= 0, tf.float32))
            return {m.name: m.result() for m in self.metrics}

        def call(self, x, training=False):
            return self.student(x, training=training)

    return Distiller


def _Distiller(*args):
    return _distiller_class()(*args)


def student_template(name: str, input_shape: tuple, classes: int, width: float = 1.0, input_scaling=()):
    """Built-in students sized by a width multiplier: `tiny_cnn` for images, `tiny_mlp` for
    flat inputs. Logit outputs (distillation softens them best). `input_scaling`: the teacher's
    leading Rescaling/Normalization layers, copied first, so the student takes the same data."""
    keras = keras_env.keras()
    w = max(1, int(round(8 * width)))
    if name == "tiny_cnn":
        if len(input_shape) != 3:
            raise ModelError(f"tiny_cnn needs image inputs (H, W, C), got {input_shape}", hint="use tiny_mlp")
        layers = [keras.layers.Conv2D(w, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(2),
                  keras.layers.Conv2D(2 * w, 3, padding="same", activation="relu"), keras.layers.Flatten()]
    elif name == "tiny_mlp":
        layers = [keras.layers.Flatten(), keras.layers.Dense(4 * w, activation="relu")]
    else:
        raise ModelError(f"unknown student template '{name}'", hint="templates: tiny_cnn, tiny_mlp, or a model file")
    scaling = [type(layer).from_config(layer.get_config()) for layer in input_scaling]
    student = keras.Sequential([keras.Input(input_shape), *scaling, *layers, keras.layers.Dense(classes, name="logits")],
                               name=f"{name}_w{width:g}")
    for copy, layer in zip(scaling, input_scaling):
        copy.set_weights(layer.get_weights())  # a Normalization's adapted mean and variance
    return student
