"""Magnitude pruning with TFMOT: wrap the chosen layers, fine-tune, strip, and prove the
target sparsity was reached in every pruned layer."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset
from ..errors import CheckFailed, ModelError
from ..settings import SettingError
from ..inputs.models import is_graph_model, require_keras
from .flatten import flat_copy
from .layers import LayerRules, check_patterns, resolve
from .train import (TrainOptions, check_trainable, compile_for_labels, copy_model, fit, outputs_probabilities,
                    steps_per_epoch)

PRUNABLE_TYPES = ("Conv1D", "Conv2D", "Dense")
SCHEDULES = ("polynomial", "constant")


@dataclass(frozen=True)
class PruneOptions:
    sparsity: float = 0.75
    schedule: str = "polynomial"
    structure: tuple[int, int] | None = None  # (m, n): m of every n weights kept, e.g. (2, 4)
    overrides: dict = field(default_factory=dict)  # layer-name regex -> sparsity (0 leaves it dense)
    types: tuple[str, ...] = PRUNABLE_TYPES
    train: TrainOptions = TrainOptions()
    # Dense kernels pruned in blocks of (inputs, outputs): (4, 1) zeroes runs of 4 consecutive
    # inputs, contiguous in the .tflite weights, which is what makes gzip pay off.
    block: tuple[int, int] | None = None
    by_type: dict = field(default_factory=dict)  # layer class name -> sparsity, over `types` at `sparsity`

    def __post_init__(self):
        if not 0 < self.sparsity < 1:
            raise SettingError(f"prune.sparsity must be between 0 and 1, not {self.sparsity}", hint="e.g. 0.75")
        if self.schedule not in SCHEDULES:
            raise SettingError(f"prune.schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}",
                               hint=f"valid values: {', '.join(SCHEDULES)}")
        check_patterns(self.overrides)

    @property
    def rules(self) -> LayerRules:
        return LayerRules(default=0.0, by_type={**{t: self.sparsity for t in self.types}, **self.by_type},
                          by_name=self.overrides)


@dataclass
class PruneResult:
    model: object
    layer_sparsity: dict[str, float]  # reached, per pruned layer
    targets: dict[str, float]
    metrics: dict
    flattened: list[str] = field(default_factory=list)  # nested models inlined so their layers are pruned

    def summary(self) -> dict:
        return {"targets": self.targets, "reached": self.layer_sparsity, "final_metrics": self.metrics,
                "flattened_nested_models": self.flattened}


def prune(model, data: Dataset, options: PruneOptions = PruneOptions()) -> PruneResult:
    require_keras(model, "pruning")
    check_trainable(model, "pruning")
    model, flattened = flat_copy(model)
    targets = _targets(model, options)
    probabilities = outputs_probabilities(model, data)
    wrapped = _wrap(copy_model(model), targets, options, data)
    metrics = _train(wrapped, data, options, probabilities)
    stripped = keras_env.tfmot().sparsity.keras.strip_pruning(wrapped)
    reached = _check_sparsity_reached(stripped, targets, options.structure)
    return PruneResult(stripped, reached, targets, metrics, flattened)


def _targets(model, options: PruneOptions) -> dict[str, float]:
    if not is_graph_model(model):
        raise ModelError("pruning needs a Sequential or Functional model; this one is subclassed",
                         hint="rebuild it functionally, or convert it without pruning")
    check_patterns(options.overrides, [layer.name for layer in model.layers])
    targets = {layer.name: resolve(layer.name, type(layer).__name__, options.rules) for layer in model.layers}
    targets = {k: float(v) for k, v in targets.items() if v}
    if not targets:
        raise ModelError("no layer to prune", hint=f"prunable types: {', '.join(options.types)}; check --layers")
    return targets


def _schedule(target: float, options: PruneOptions, data: Dataset):
    sparsity = keras_env.tfmot().sparsity.keras
    total = steps_per_epoch(data, options.train) * options.train.epochs
    end = max(1, int(total * 0.7))  # leave the last 30% of training to recover accuracy
    frequency = max(1, end // 20)
    if options.schedule == "constant":
        return sparsity.ConstantSparsity(target, begin_step=0, frequency=frequency)
    return sparsity.PolynomialDecay(0.0, target, begin_step=0, end_step=end, frequency=frequency)


def _wrap(model, targets: dict, options: PruneOptions, data: Dataset):
    sparsity = keras_env.tfmot().sparsity.keras

    def wrap(layer):
        if layer.name not in targets:
            return layer
        # a one-unit Dense (a sigmoid head) has no rows of blocks: TFMOT's pooling refuses its rank-1 squeeze
        blocked = options.block and type(layer).__name__ == "Dense" and layer.units > 1
        block = {"block_size": options.block} if blocked else {}
        return sparsity.prune_low_magnitude(layer, pruning_schedule=_schedule(targets[layer.name], options, data),
                                            sparsity_m_by_n=options.structure, **block)

    return keras_env.keras().models.clone_model(model, clone_function=wrap)


def _train(model, data: Dataset, options: PruneOptions, probabilities: bool) -> dict:
    # no early stopping: it would end training before the schedule reaches the target sparsity
    train = replace(options.train, patience=0)
    compile_for_labels(model, train, probabilities)
    return fit(model, data, train, callbacks=[keras_env.tfmot().sparsity.keras.UpdatePruningStep()])


def _check_sparsity_reached(model, targets: dict, structure) -> dict[str, float]:
    reached = {}
    for name, target in targets.items():
        kernel = model.get_layer(name).get_weights()[0]
        reached[name] = float(np.mean(kernel == 0))
        want = 1 - structure[0] / structure[1] if structure else target
        if reached[name] < want - max(0.01, 1 / kernel.size):  # tiny layers round to whole weights
            raise CheckFailed(f"layer '{name}' reached {reached[name]:.1%} sparsity, below its target {want:.0%}",
                              hint="train for more epochs, or lower the sparsity for that layer")
        if structure and not satisfies_m_by_n(kernel, *structure):
            raise CheckFailed(f"layer '{name}' does not follow the {structure[0]}:{structure[1]} pattern",
                              hint="M:N pruning applies to Conv2D and Dense kernels only")
    return reached


def satisfies_m_by_n(kernel: np.ndarray, m: int, n: int, axis: int = -2) -> bool:
    """At most m non-zeros in every block of n consecutive weights along the input axis
    (Keras kernels: the second-to-last axis; TFLite OHWI weights: the last axis)."""
    w = np.moveaxis(kernel, axis, -1)
    if w.shape[-1] % n:
        return False
    blocks = w.reshape(-1, w.shape[-1] // n, n)
    return bool(np.all(np.count_nonzero(blocks, axis=-1) <= m))
