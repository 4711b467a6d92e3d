"""Quantization-aware training with TFMOT, that never crashes on what it cannot wrap.

Before training, every layer is linted against TFMOT's default 8-bit registry: supported
layers are annotated for QAT; the rest stay float during training and are quantized by
calibration at conversion. If TFMOT still fails on the graph (seen with SeparableConv2D and
residual graphs), the model is returned as it was and the report says PTQ will be used.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import keras_env
from ..data import Dataset
from ..errors import ModelError
from ..models import is_graph_model
from .train import TrainOptions, copy_model, compile_for_labels, fit, outputs_probabilities

_PASSIVE = ("InputLayer",)  # nothing to quantize


@dataclass(frozen=True)
class QatOptions:
    preserve_sparsity: bool = False  # pruning-preserving QAT: zeros stay zeros
    train: TrainOptions = TrainOptions(epochs=3, learning_rate=1e-4)


@dataclass(frozen=True)
class LintItem:
    layer: str
    type: str
    supported: bool
    action: str


@dataclass
class QatResult:
    model: object
    lint: list[LintItem]
    fallback: str | None  # why QAT was not applied (then conversion calibrates the float model)
    metrics: dict

    def summary(self) -> dict:
        return {"applied": self.fallback is None, "fallback": self.fallback, "metrics": self.metrics,
                "not_wrapped": [asdict(i) for i in self.lint if not i.supported]}


def lint(model) -> list[LintItem]:
    registry = keras_env.qat_registry()
    items = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in _PASSIVE:
            continue
        if isinstance(layer, keras_env.keras().Model):
            items.append(LintItem(layer.name, kind, False, "nested model: left float, quantized at conversion"))
        elif registry.supports(layer):
            items.append(LintItem(layer.name, kind, True, "fake-quantized during training"))
        else:
            items.append(LintItem(layer.name, kind, False, "not supported by TFMOT's 8-bit scheme: left float in "
                                                           "training, quantized by calibration at conversion"))
    return items


def qat(model, data: Dataset, options: QatOptions = QatOptions()) -> QatResult:
    if not is_graph_model(model):
        raise ModelError("QAT needs a Sequential or Functional model; this one is subclassed",
                         hint="rebuild it functionally, or convert it with post-training quantization")
    items = lint(model)
    probabilities = outputs_probabilities(model, data.x)
    try:
        quantized = _apply(copy_model(model), {i.layer for i in items if i.supported}, options)
    except Exception as e:  # TFMOT raises assorted errors (shape, value, type) on graphs it cannot handle
        reason = f"TFMOT could not apply QAT ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        return QatResult(model, items, reason + "; falling back to post-training quantization", {})
    compile_for_labels(quantized, options.train, probabilities)
    metrics = fit(quantized, data, options.train)
    return QatResult(quantized, items, None, metrics)


def _apply(model, supported: set[str], options: QatOptions):
    quant = keras_env.tfmot().quantization.keras
    annotated = keras_env.keras().models.clone_model(
        model, clone_function=lambda layer: quant.quantize_annotate_layer(layer) if layer.name in supported else layer)
    scheme = None
    if options.preserve_sparsity:
        scheme = keras_env.tfmot().experimental.combine.Default8BitPrunePreserveQuantizeScheme()
    with quant.quantize_scope():
        return quant.quantize_apply(annotated, scheme) if scheme else quant.quantize_apply(annotated)
