"""Quantization-aware training with TFMOT, that never crashes on what it cannot wrap.

The whole model is annotated first, as `quantize_model` does: TFMOT's layout transforms then
see the graph and fold Conv+BatchNorm(+ReLU), split SeparableConv and share Concatenate
ranges. Asking the registry layer by layer would call BatchNorm and SeparableConv
"unsupported" and skip those transforms. Only when TFMOT rejects the whole model are layers
annotated one by one, leaving out each layer TFMOT names as unsupported. If TFMOT still fails
(seen with some SeparableConv2D/residual graphs), the model is returned as it was and the
report says PTQ will be used. The lint describes what happened to each layer.

Training starts from the float model's calibrated activation ranges (`qat_ranges.py`; TFMOT's
own start, [-6, 6], converts untrained to a 10% model on the demo), with a warmed-up cosine
schedule, and learns either the data's labels or, without labels, the float model's outputs
(distillation: QAT needs no labelled data then).
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset, predicted_classes
from ..errors import DataError, ModelError
from ..inputs.models import is_graph_model, require_keras
from .flatten import flat_copy
from .qat_configs import config_for, custom_objects
from .qat_ranges import start_from_calibrated_ranges
from .train import (TrainOptions, check_trainable, compile_for_labels, compile_with_loss, copy_model, fit,
                    model_inputs, outputs_probabilities, teacher_targets)

_PASSIVE = ("InputLayer",)  # nothing to quantize
# Layers TFMOT's Default8Bit layout transforms quantize although its registry says no.
_TRANSFORMED = {"BatchNormalization": "folded into the preceding Conv/Dense, fake-quantized with it",
                "SeparableConv1D": "split into depthwise + pointwise convolutions, both fake-quantized",
                "SeparableConv2D": "split into depthwise + pointwise convolutions, both fake-quantized",
                "Concatenate": "inputs share one fake-quantized range"}
_FOLDS_INTO = {"Conv2D", "DepthwiseConv2D", "Dense"}  # what TFMOT folds a BatchNormalization into
# ... also after these, which its transforms first split into a depthwise and a pointwise Conv2D
_SPLIT_INTO_CONV = {"SeparableConv1D", "SeparableConv2D"}
_FAKE_QUANTIZED = "fake-quantized during training"
_OUR_CONFIG = "fake-quantized during training by edgeconv's config (TFMOT's registry leaves {kind} out)"
_LEFT_FLOAT = "left float in training, quantized by calibration at conversion"
_MAX_REJECTED = 8  # layers left out one by one before giving up on QAT


@dataclass(frozen=True)
class QatOptions:
    preserve_sparsity: bool = False  # pruning-preserving QAT: zeros stay zeros
    train: TrainOptions = TrainOptions(epochs=3, learning_rate=1e-4, schedule="cosine")
    targets: str = "auto"  # "labels", "teacher" (the float model's outputs), auto: labels when the data has them
    calibrated_start: bool = True  # activation ranges start at the float model's min/max on the data


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
    annotation: str = "whole model"  # or "layer by layer" when TFMOT rejected the whole model
    flattened: list[str] = field(default_factory=list)  # nested models inlined so QAT reaches their layers
    accuracy_before: float | None = None  # top-1 of the float model on the held-out split
    accuracy_after: float | None = None  # the same for the QAT (fake-quantized) model
    accuracy_on: str = ""  # which samples those are
    epochs: int = 0  # epochs trained (early stopping may end sooner than asked)
    seconds: float = 0.0  # training time
    trained_on: str = "labels"  # or "teacher": the float model's outputs
    calibrated_ranges: int = 0  # activation ranges set from the data before training
    kept_epoch: int | None = None  # the epoch whose weights were kept (0: the calibrated start)

    def summary(self) -> dict:
        return {"applied": self.fallback is None, "fallback": self.fallback, "annotation": self.annotation,
                "flattened_nested_models": self.flattened,
                "accuracy_before": self.accuracy_before, "accuracy_after": self.accuracy_after,
                "accuracy_on": self.accuracy_on, "epochs": self.epochs, "seconds": self.seconds,
                "trained_on": self.trained_on, "calibrated_ranges": self.calibrated_ranges,
                "kept_epoch": self.kept_epoch,
                "metrics": self.metrics, "not_wrapped": [asdict(i) for i in self.lint if not i.supported],
                "transformed": _by_type(i for i in self.lint if i.supported and i.action != _FAKE_QUANTIZED)}


def lint(model, left_out: set[str] = frozenset(), accepted: bool = False) -> list[LintItem]:
    """What QAT does to each layer when the layers in `left_out` are not annotated; `accepted`:
    TFMOT took the whole model, so no layer is left out by rule."""
    registry = keras_env.qat_registry()
    items = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in _PASSIVE:
            continue
        if _is_left_out(layer, left_out, accepted, registry):
            items.append(LintItem(layer.name, kind, False, why_left_out(layer) + ": " + _LEFT_FLOAT))
        elif kind in _TRANSFORMED:
            items.append(LintItem(layer.name, kind, True, _TRANSFORMED[kind]))
        elif config_for(layer) is not None:
            items.append(LintItem(layer.name, kind, True, _OUR_CONFIG.format(kind=kind)))
        else:
            items.append(LintItem(layer.name, kind, True, _FAKE_QUANTIZED))
    return items


def _is_left_out(layer, left_out: set[str], accepted: bool, registry) -> bool:
    if layer.name in left_out or isinstance(layer, keras_env.keras().Model):
        return True
    if not accepted and _rejected_by_rule(layer):
        return True
    return not _quantizable(layer, registry)


def _quantizable(layer, registry) -> bool:
    """TFMOT's registry or layout transforms quantize it, or one of our configs does."""
    return type(layer).__name__ in _TRANSFORMED or registry.supports(layer) or config_for(layer) is not None


# Why TFMOT 0.8's Default8Bit scheme (default_8bit_quantize_registry.py) has no config for a type
_NOT_IN_REGISTRY = {
    "Multiply": "TFMOT's 8-bit registry has no config for Multiply (hard-swish x·hard_sigmoid(x), "
                "squeeze-excite gates)",
    "TFOpLambda": "a raw TensorFlow op in the graph ({op}), not a Keras layer: TFMOT's registry has no config for it",
    "Rescaling": "TFMOT's 8-bit registry has no config for preprocessing layers (Rescaling)",
    "Normalization": "TFMOT's 8-bit registry has no config for preprocessing layers (Normalization)",
    "Conv1D": "TFMOT's 8-bit registry leaves Conv1D out (commented out there: not verified against TFLite)",
    "LSTM": "TFMOT's 8-bit registry leaves recurrent layers out (commented out there: not verified)",
    "GRU": "TFMOT's 8-bit registry leaves recurrent layers out (commented out there: not verified)",
    "SimpleRNN": "TFMOT's 8-bit registry leaves recurrent layers out (commented out there: not verified)",
}
_ACTIVATIONS = ("relu", "relu6", "swish", "gelu", "linear", "softmax", "sigmoid", "tanh")  # its Activation config's


def why_left_out(layer) -> str:
    """The precise reason TFMOT's 8-bit scheme does not fake-quantize this layer."""
    kind = type(layer).__name__
    if isinstance(layer, keras_env.keras().Model):
        return "a nested model that could not be inlined"
    if kind == "BatchNormalization":
        before = layer.inbound_nodes[0].inbound_layers if layer.inbound_nodes else None
        after = type(before).__name__ if before else "the input"
        if after in _FOLDS_INTO and _activation(before) != "linear":
            after = f"{after} with activation '{_activation(before)}'"
        return (f"BatchNormalization after {after}: TFMOT folds it only into a linear "
                f"{'/'.join(sorted(_FOLDS_INTO))} before it, and has no config for it alone")
    if kind == "Activation":
        name = getattr(layer.activation, "__name__", str(layer.activation))
        if name not in _ACTIVATIONS:
            return f"Activation '{name}': TFMOT's 8-bit Activation config takes only {', '.join(_ACTIVATIONS)}"
    if kind in _NOT_IN_REGISTRY:
        return _NOT_IN_REGISTRY[kind].format(op=getattr(layer, "symbol", "") or layer.name)
    if not type(layer).__module__.startswith(("tf_keras.", "keras.")):
        return f"a custom layer ({type(layer).__module__}.{kind}): TFMOT has no config for it"
    return f"TFMOT's 8-bit registry has no config for {kind}"


def qat(model, data: Dataset, options: QatOptions = QatOptions()) -> QatResult:
    require_keras(model, "QAT")
    if not is_graph_model(model):
        raise ModelError("QAT needs a Sequential or Functional model; this one is subclassed",
                         hint="rebuild it functionally, or convert it with post-training quantization")
    # The float model's outputs: any shape, and as many as it has
    check_trainable(model, "QAT", labels=_on_labels(options, data), several_outputs=True)
    flat, flattened = flat_copy(model)
    try:
        quantized, left_out = _annotate_and_apply(flat, options)
    except Exception as e:  # TFMOT raises assorted errors (shape, value, type) on graphs it cannot handle
        reason = f"TFMOT could not apply QAT ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        return QatResult(model, lint(flat, _unsupported(flat)), reason + "; falling back to post-training "
                         "quantization", {}, "none", flattened)
    ranges = start_from_calibrated_ranges(quantized, data) if options.calibrated_start else 0
    targets = _compile(quantized, model, data, options)
    before, on = held_out_accuracy(model, data, options.train)
    start, epochs = time.monotonic(), _EpochCount()
    best = _best_weights_callback()(quantized, data, options.train, targets)
    metrics = fit(quantized, data, options.train, callbacks=[epochs.callback(), best], targets=targets)
    seconds = time.monotonic() - start
    annotation = "whole model" if left_out is None else "layer by layer"
    return QatResult(quantized, lint(flat, left_out or set(), accepted=left_out is None), None, metrics, annotation,
                     flattened, before, held_out_accuracy(quantized, data, options.train)[0], on,
                     epochs.count, seconds, "labels" if targets is None else "teacher", ranges, best.epoch)


def _compile(quantized, model, data: Dataset, options: QatOptions):
    """Compile for the labels (returns None) or for the float model's outputs (returns them)."""
    if options.targets == "labels" and data.y is None:
        raise DataError(f"{data.source} has no labels, which QAT with targets 'labels' needs",
                        hint="give labelled data, or learn the float model's outputs: --targets teacher (or auto)")
    if _on_labels(options, data):
        compile_for_labels(quantized, options.train, outputs_probabilities(model, data), data)
        return None
    targets, loss = teacher_targets(model, data)
    compile_with_loss(quantized, options.train, loss, data)
    return targets


def _on_labels(options: QatOptions, data: Dataset) -> bool:
    """Whether QAT learns the data's labels (else the float model's outputs)."""
    return options.targets == "labels" or (options.targets == "auto" and data.y is not None)


def _best_weights_callback():
    keras = keras_env.keras()

    class BestWeights(keras.callbacks.Callback):
        """Keeps the weights (quantizer ranges included) with the lowest validation loss, the
        calibrated start counted as epoch 0: fine-tuning that does not help the fake-quantized
        model on held-out samples is undone, so QAT ends no worse than where it started."""

        def __init__(self, model, data: Dataset, options: TrainOptions, targets):
            super().__init__()
            start = int(len(data) * (1 - options.validation_split))
            self._held_out = None
            if options.validation_split and start < len(data):
                xs = model_inputs(data)
                ys = data.y if targets is None else targets
                self._held_out = tuple([v[start:] for v in vs] if isinstance(vs, list) else vs[start:] for vs in (xs, ys))
            self._batch, self.epoch, self._best, self._weights = options.batch_size, None, np.inf, None

        def on_train_begin(self, logs=None):
            if self._held_out is not None:
                self._best = _loss(self.model.evaluate(*self._held_out, batch_size=self._batch, verbose=0))
                self._weights, self.epoch = self.model.get_weights(), 0

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss")
            if self._weights is not None and loss is not None and loss < self._best:
                self._best, self._weights, self.epoch = loss, self.model.get_weights(), epoch + 1

        def on_train_end(self, logs=None):
            if self._weights is not None:
                self.model.set_weights(self._weights)

    return BestWeights


def _loss(evaluated) -> float:
    return float(evaluated[0] if isinstance(evaluated, list) else evaluated)


class _EpochCount:
    """Epochs fit() ran: early stopping may end before the epochs asked for."""

    def __init__(self):
        self.count = 0

    def callback(self):
        def ended(epoch, logs=None):
            self.count = epoch + 1

        return keras_env.keras().callbacks.LambdaCallback(on_epoch_end=ended)


def held_out_accuracy(model, data: Dataset, options: TrainOptions) -> tuple[float | None, str]:
    """Top-1 accuracy on the samples fit() holds out (Keras takes the last `validation_split`
    of them), so before and after compare on data QAT did not train on; None for outputs
    that are not class scores."""
    n = len(data)
    start = int(n * (1 - options.validation_split)) if options.validation_split else 0
    if data.y is None or start >= n or len(model.outputs) > 1:  # which output the labels are for is unknown
        return None, ""
    xs = model_inputs(data)
    xs = [x[start:] for x in xs] if isinstance(xs, list) else xs[start:]
    out = np.asarray(model.predict(xs, verbose=0))
    if out.ndim != 2:
        return None, ""
    on = f"{n - start} held-out samples" if start else f"the {n} training samples"
    return float(np.mean(predicted_classes(out) == np.asarray(data.y[start:]).reshape(-1))), on


def _annotate_and_apply(model, options: QatOptions):
    """(QAT model, layers left out): None when the whole model was annotated."""
    try:
        return _apply(copy_model(model), None, options), None
    except Exception:  # noqa: BLE001 - any rejection of the whole model: go layer by layer
        pass
    left_out = _unsupported(model)
    for _ in range(_MAX_REJECTED):
        try:
            return _apply(copy_model(model), left_out, options), left_out
        except Exception as e:  # noqa: BLE001 - leave out the layer TFMOT names, if it names one
            rejected = _rejected_layer(e, model)
            if rejected is None or rejected in left_out:
                raise
            left_out = left_out | {rejected}
    return _apply(copy_model(model), left_out, options), left_out


def _unsupported(model) -> set[str]:
    """Layers neither the registry nor the layout transforms quantize."""
    registry = keras_env.qat_registry()
    return {layer.name for layer in model.layers
            if _rejected_by_rule(layer) or type(layer).__name__ not in _PASSIVE
            and (isinstance(layer, keras_env.keras().Model) or not _quantizable(layer, registry))}


def _rejected_by_rule(layer) -> bool:
    """Layers the registry claims but TFMOT fails on: a BatchNormalization it cannot fold, an
    Activation whose function its Activation config does not take."""
    if type(layer).__name__ == "Activation":
        return _activation(layer) not in _ACTIVATIONS
    return _unfoldable_batchnorm(layer)


def _unfoldable_batchnorm(layer) -> bool:
    """The transforms fold a BatchNormalization only into the Conv/Dense with a linear
    activation before it; another one (e.g. ResNetV2's pre-activation BN after an Add, or a BN
    after Conv2D(activation="relu")) is rejected by TFMOT."""
    if type(layer).__name__ != "BatchNormalization" or not layer.inbound_nodes:
        return False
    before = layer.inbound_nodes[0].inbound_layers
    return type(before).__name__ not in _FOLDS_INTO | _SPLIT_INTO_CONV or _activation(before) != "linear"


def _activation(layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation)) if activation is not None else "linear"


def _rejected_layer(error: Exception, model) -> str | None:
    """TFMOT names the layer it cannot handle: 'Layer NAME:<class ...> is not supported' or
    'calling layer "NAME"'."""
    text = str(error)
    names = {layer.name for layer in model.layers}
    for pattern in (r"Layer ([^:\s]+):<class", r'calling layer "([^"]+)"'):
        found = re.search(pattern, text)
        if found and found.group(1) in names:
            return found.group(1)
    return None


def _apply(model, left_out: set[str] | None, options: QatOptions):
    quant = keras_env.tfmot().quantization.keras
    keras_env.reserve_layer_names(model)  # the layers TFMOT's transforms add must not take the model's names
    left_out = left_out or set()

    def annotate(layer):
        if layer.name in left_out or isinstance(layer, keras_env.keras().layers.Lambda):  # as quantize_annotate_model
            return layer
        return quant.quantize_annotate_layer(layer, config_for(layer))

    with quant.quantize_scope(custom_objects()), _tfmot_lambdas_allowed():
        annotated = keras_env.keras().models.clone_model(model, clone_function=annotate)
        scheme = keras_env.prune_preserve_scheme() if options.preserve_sparsity else None
        return quant.quantize_apply(annotated, scheme) if scheme else quant.quantize_apply(annotated)


def _tfmot_lambdas_allowed():
    """TFMOT's SeparableConv1D transform puts Lambda layers of its own in the graph and then
    clones it, which tf_keras' safe mode refuses ("deserialization of a Lambda layer"): QAT of
    any model with SeparableConv1D fell back to PTQ. The model is already in memory (a file's
    own Lambda code was refused at loading unless the user trusted it), so nothing new runs."""
    from tf_keras.src.saving.serialization_lib import SafeModeScope

    return SafeModeScope(False)


def _by_type(items) -> dict[str, dict]:
    """{layer type: {"layers": count, "action": what TFMOT does}}."""
    out: dict[str, dict] = {}
    for item in items:
        out.setdefault(item.type, {"layers": 0, "action": item.action})["layers"] += 1
    return out
