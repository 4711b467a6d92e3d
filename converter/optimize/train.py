"""The training loop that pruning, QAT and distillation share."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset
from ..errors import DataError, ModelError


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    validation_split: float = 0.1  # held out for early stopping on validation loss
    patience: int = 3  # early stopping on validation loss; 0 turns it off
    verbose: int = 0  # 1 shows Keras progress bars
    distribute: bool = False  # MirroredStrategy over the visible devices
    schedule: str = "constant"  # or "cosine": linear warm-up over WARMUP of the steps, then cosine decay to 0

WARMUP = 0.05  # share of the steps the cosine schedule warms up over: Adam's first steps are its noisiest


def check_trainable(model, step: str, labels: bool = True, several_outputs: bool = False) -> None:
    """What the shared training loop handles: one labelled output, and no stateful layers
    (their state assumes one fixed batch, which fit's shuffling and validation split break).
    With `labels` (fine-tuning on the data's labels, not distillation), the output must be one
    row of class scores per sample: labels are one class index per sample. `several_outputs`:
    the step learns a float model's outputs, each one with its own loss."""
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) > 1 and (labels or not several_outputs):
        raise ModelError(f"{step} trains one labelled output; the model '{model.name}' has {len(outputs)}",
                         hint="convert it without this step, or train a single-output version of it" +
                              ("; it can learn every output of the float model instead: targets teacher "
                               "(--targets teacher, or qat: {targets: teacher} in a recipe)" if several_outputs else ""))
    if not labels and isinstance(getattr(model, "output", None), dict):  # teacher targets follow predict's list
        raise ModelError(f"{step} learns a list of outputs; the model '{model.name}' returns a dict of them",
                         hint="convert it without this step, or rebuild it with its outputs as a list")
    shape = tuple(outputs[0].shape[1:]) if outputs else ()
    if labels and len(shape) > 1:
        raise ModelError(f"{step} fine-tunes on one class label per sample, but the model's output {shape} is one per "
                         "position (segmentation, sequence tagging): per-position labels are not supported",
                         hint="convert it without this step (post-training quantization needs no labels), or distil it "
                              "into a student model file with the same output shape")
    stateful = [layer.name for layer in getattr(model, "layers", []) if getattr(layer, "stateful", False)]
    if stateful:
        raise ModelError(f"{step} cannot train stateful layers ({', '.join(stateful)}): their state assumes "
                         "one fixed batch", hint="apply the step to a stateless copy (stateful=False), then "
                                                 "copy the weights into the stateful model and convert that")


def model_inputs(data: Dataset, count: int | None = None):
    """What Keras takes as x: one array, or a list for a multi-input model."""
    xs = [np.asarray(x[:count], np.float32) for x in data.inputs]
    return xs[0] if len(xs) == 1 else xs


def outputs_probabilities(model, data: Dataset) -> bool:
    """Whether the model outputs probabilities (non-negative, rows summing to 1) rather than
    logits. Measured, not read from the last layer: TFMOT wrappers hide its activation."""
    n = min(16, len(data))
    return are_probabilities(np.asarray(model(model_inputs(data, n), training=False)))


def are_probabilities(out: np.ndarray) -> bool:
    """Rows of non-negative scores summing to 1, or one unit in [0, 1] (a sigmoid's)."""
    out = out.reshape(len(out), -1)
    if out.shape[1] == 1:  # one unit: a sigmoid's probability, or a logit
        return bool(np.all((out >= 0) & (out <= 1)))
    return bool(np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))


def strategy_scope(options: TrainOptions):
    if not options.distribute:
        return contextlib.nullcontext()
    return keras_env.tf().distribute.MirroredStrategy().scope()


def compile_for_labels(model, options: TrainOptions, probabilities: bool, data: Dataset | None = None) -> None:
    """Cross-entropy on class labels (`label_loss`); `data` sizes a cosine schedule."""
    keras = keras_env.keras()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(options, data)), loss=label_loss(model, probabilities),
                  metrics=["accuracy"])


def label_loss(model, probabilities: bool):
    """Sparse categorical cross-entropy for K class scores; binary cross-entropy for one output
    unit (a binary classifier's sigmoid probability, or its logit), whose labels are 0 and 1."""
    keras = keras_env.keras()
    if single_unit(model):
        return keras.losses.BinaryCrossentropy(from_logits=not probabilities)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities)


def single_unit(model) -> bool:
    """Whether the model has one output of one value per sample."""
    shapes = [tuple(t.shape) for t in model.outputs] if getattr(model, "outputs", None) else []
    return len(shapes) == 1 and len(shapes[0]) == 2 and shapes[0][1] == 1


def teacher_targets(teacher, data: Dataset):
    """What a student learns from `teacher` on `data` (no labels needed): (targets, loss), or a
    list of each for a teacher with several outputs. Class scores become probabilities learnt
    with cross-entropy (the student's own outputs are probabilities or logits, as the teacher's
    are); any other output is matched by mean squared error."""
    predicted = teacher.predict(model_inputs(data), batch_size=256, verbose=0)
    if isinstance(predicted, (list, tuple)):
        pairs = [output_target(np.asarray(out, np.float32)) for out in predicted]
        return [target for target, _ in pairs], [loss for _, loss in pairs]
    return output_target(np.asarray(predicted, np.float32))


def output_target(outputs: np.ndarray):
    """(target, loss) for learning one of a teacher's outputs."""
    keras = keras_env.keras()
    if outputs.ndim == 2 and outputs.shape[1] == 1:  # a sigmoid's probabilities, else logits or a regression
        return outputs, keras.losses.BinaryCrossentropy() if are_probabilities(outputs) else keras.losses.MeanSquaredError()
    if outputs.ndim != 2:
        return outputs, keras.losses.MeanSquaredError()
    if are_probabilities(outputs):
        return outputs, keras.losses.CategoricalCrossentropy()
    return keras_env.tf().nn.softmax(outputs).numpy(), keras.losses.CategoricalCrossentropy(from_logits=True)


def compile_with_loss(model, options: TrainOptions, loss, data: Dataset | None = None) -> None:
    model.compile(optimizer=keras_env.keras().optimizers.Adam(learning_rate(options, data)), loss=loss)


def learning_rate(options: TrainOptions, data: Dataset | None):
    """The optimizer's rate: constant, or warmed up and cosine-decayed over the steps fit() will run."""
    if options.schedule == "constant" or data is None:
        return options.learning_rate
    steps = options.epochs * steps_per_epoch(data, options)
    warmup = max(1, round(WARMUP * steps))
    return keras_env.keras().optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, steps - warmup), warmup_target=options.learning_rate, warmup_steps=warmup)


def fit(model, data: Dataset, options: TrainOptions, callbacks=(), targets=None) -> dict:
    """Train with early stopping on the data's labels, or on `targets` (e.g. a teacher's
    outputs) when given; returns the last epoch's metrics."""
    if targets is None and data.y is None:
        raise DataError(f"{data.source} has no labels, which fine-tuning needs",
                        hint="give an .npz with y, an image folder with class subfolders, or a CSV --label-column")
    keras = keras_env.keras()
    keras_env.seed_everything(options.seed)
    stop = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=options.patience)] if options.patience else []
    history = model.fit(model_inputs(data), data.y if targets is None else targets, epochs=options.epochs, batch_size=options.batch_size,
                        validation_split=options.validation_split,
                        callbacks=[*callbacks, *stop, *progress_callbacks(data, options)],
                        verbose=options.verbose, shuffle=True)
    return {k: float(v[-1]) for k, v in history.history.items()}


def progress_callbacks(data: Dataset, options: TrainOptions) -> list:
    """A bar over every batch of every epoch, with an ETA, when the CLI shows progress (and
    Keras' own bars are off)."""
    from .. import progress

    if not progress.active() or options.verbose:
        return []

    class TrainingBar(keras_env.keras().callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._task = progress.task(f"training {options.epochs} epochs", options.epochs * steps_per_epoch(data, options))
            self._advance = self._task.__enter__()

        def on_train_batch_end(self, batch, logs=None):
            self._advance(1)

        def on_train_end(self, logs=None):
            self._task.__exit__(None, None, None)

    return [TrainingBar()]


def steps_per_epoch(data: Dataset, options: TrainOptions) -> int:
    train = int(len(data) * (1 - options.validation_split))
    return max(1, -(-train // options.batch_size))


def copy_model(model):
    """An independent copy: TFMOT wraps layer instances in place, and the caller's model must
    not change under it."""
    keras = keras_env.keras()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def refresh_batchnorm_statistics(model, data: Dataset, samples: int = 1024, batch_size: int = 64) -> int:
    """Re-estimate every BatchNormalization's moving mean and variance as the plain average of the
    batch statistics over the data (the weights unchanged); returns how many layers. After a short
    fine-tune at a high rate the moving averages (momentum 0.99) lag behind the weights, and the
    model is accurate in training but not in inference (seen: 99% vs 60% after structured pruning)."""
    norms = [layer for layer in model.submodules if type(layer).__name__ == "BatchNormalization"]
    if not norms:
        return 0
    momenta = [norm.momentum for norm in norms]
    xs = model_inputs(data, samples)
    count = len(xs[0]) if isinstance(xs, list) else len(xs)
    try:
        for k, start in enumerate(range(0, count, batch_size)):
            for norm in norms:
                norm.momentum = k / (k + 1)  # the k-th batch's statistics weigh 1/(k+1): a running mean
            batch = [x[start:start + batch_size] for x in xs] if isinstance(xs, list) else xs[start:start + batch_size]
            model(batch, training=True)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
    return len(norms)
