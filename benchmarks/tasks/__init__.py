"""Realistic benchmark tasks, built offline: each is a seeded data builder, a model builder, a
short training recipe and its metric. `benchmarks/quant_quality.py` trains each one and compares
float, PTQ int8 and QAT int8 on it.

    from benchmarks.tasks import TASKS
    task = TASKS["kws"]; train, test = task.data(seed=0, quick=False)
    model = task.train(train, seed=0)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from converter import keras_env
from converter.inputs.data import Dataset


@dataclass(frozen=True)
class Recipe:
    """How the float model is trained, and how long QAT fine-tunes it."""
    epochs: int
    batch_size: int = 32
    learning_rate: float = 1e-3
    qat_epochs: int = 3
    qat_learning_rate: float = 1e-4
    prune_epochs: int = 6  # fine-tuning after structured pruning to half the MACs (cosine, prune_learning_rate)
    prune_learning_rate: float = 1e-3
    prune_distill: bool = True  # fine-tune from the unpruned model's outputs (False: on the labels)
    cosine_decay: bool = True  # the rate decays to 0 over training: the float model ends converged,
    # so QAT's extra epochs are not what makes it beat float (seen at a constant rate: +5 points)


def top1_accuracy(labels: np.ndarray, outputs: np.ndarray) -> float:
    return float(np.mean(np.argmax(outputs.reshape(len(labels), -1), axis=1) == labels))


@dataclass(frozen=True)
class Task:
    name: str
    description: str  # one line: data, model, what is measured
    data: Callable[[int, bool], tuple[Dataset, Dataset]]  # (seed, quick) -> (train, test)
    model: Callable[[tuple, int], object]  # (input shape without batch, classes) -> tf_keras model
    recipe: Recipe
    quick_recipe: Recipe
    metric_name: str = "accuracy"
    metric: Callable[[np.ndarray, np.ndarray], float] = top1_accuracy  # (labels, model outputs) -> score
    missing: Callable[[], str | None] = lambda: None  # why the task cannot run here, or None
    ptq_should_hold: bool = True  # False for a task built to show where PTQ int8 fails

    def train(self, train: Dataset, seed: int, quick: bool = False):
        """The float model, trained with the task's recipe from a seeded initialisation."""
        recipe = self.quick_recipe if quick else self.recipe
        keras = keras_env.keras()
        keras_env.seed_everything(seed)
        model = self.model(train.x.shape[1:], len(train.classes))
        rate = recipe.learning_rate
        if recipe.cosine_decay:
            steps = recipe.epochs * -(-len(train) // recipe.batch_size)
            rate = keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=steps)
        model.compile(optimizer=keras.optimizers.Adam(rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(train.x, train.y, epochs=recipe.epochs, batch_size=recipe.batch_size, shuffle=True, verbose=0)
        return model


def split(x: np.ndarray, y: np.ndarray, classes: tuple[str, ...], test_fraction: float, seed: int,
          source: str) -> tuple[Dataset, Dataset]:
    """A seeded split that keeps each class's share in both halves."""
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:round(test_fraction * np.sum(y == c))]
                           for c in range(len(classes))])
    is_test = np.zeros(len(y), bool)
    is_test[test] = True
    train_idx, test_idx = rng.permutation(np.flatnonzero(~is_test)), np.sort(test)
    return (Dataset(x[train_idx], y[train_idx], f"{source} train", classes),
            Dataset(x[test_idx], y[test_idx], f"{source} test", classes))


def _registry() -> dict[str, Task]:
    from .images import MOBILENET_TASK, RESNET_TASK
    from .kws import KWS_TASK
    from .tones import TONES_TASK

    return {t.name: t for t in (KWS_TASK, RESNET_TASK, MOBILENET_TASK, TONES_TASK)}


TASKS: dict[str, Task] = _registry()
