"""Structured (channel) pruning: remove whole filters and rebuild a smaller dense model, which
is smaller and faster as a .tflite, unlike TFMOT's zeros.

The channel groups come from channel_graph (residual chains are one group, depthwise layers
follow their input, the model's inputs and outputs keep their widths); each group keeps its
most important channels (importance.py), rounded up to a multiple of `round_to` so the
kernels stay vectorised; channel_surgery rebuilds the model; fine-tuning (optionally
distilled from the unpruned model) recovers the accuracy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ..inputs.data import Dataset, predicted_classes
from ..inputs.models import is_graph_model, require_keras
from ..settings import SettingError
from .channel_graph import ChannelGraph, analyse
from .channel_compensation import compensate
from .channel_surgery import indices, model_macs, rebuild
from .flatten import flat_copy
from .importance import METHODS, scores
from .layers import LayerRules, check_patterns, resolve
from .train import (TrainOptions, check_trainable, compile_for_labels, fit, label_loss, model_inputs,
                    outputs_probabilities, refresh_batchnorm_statistics)

MAX_RATIO = 0.95  # the searched ratio stops here: a group keeps at least a twentieth


@dataclass(frozen=True)
class ChannelOptions:
    ratio: float = 0.5  # fraction of each prunable group's channels removed
    target_macs: float | None = None  # fraction of the MACs to keep; the ratio is searched
    importance: str = "bn"  # best after surgery on a trained residual CNN: benchmarks/structured.py
    round_to: int = 8
    overrides: dict = field(default_factory=dict)  # layer-name regex -> ratio (0 keeps the group)
    by_type: dict = field(default_factory=dict)  # layer class name -> ratio
    train: TrainOptions | None = TrainOptions()  # None: no fine-tuning after surgery
    distill: bool = False  # fine-tune against the unpruned model's outputs
    compensate: bool = True  # fold the removed channels' mean contribution into the next biases

    def __post_init__(self):
        for what, value in (("ratio", self.ratio), *((f"ratio of '{k}'", v) for k, v in
                                                      {**self.overrides, **self.by_type}.items())):
            if not 0 <= value < 1:
                raise SettingError(f"prune.channels: the {what} must be at least 0 and below 1, not {value}",
                                   hint="the fraction of channels removed, e.g. 0.5")
        if self.target_macs is not None and not 0 < self.target_macs < 1:
            raise SettingError(f"prune.target_macs must be above 0 and below 1, not {self.target_macs}",
                               hint="the fraction of the MACs to keep, e.g. 0.5")
        if self.importance not in METHODS:
            raise SettingError(f"prune.importance must be one of {', '.join(METHODS)}, not {self.importance!r}",
                               hint=f"valid values: {', '.join(METHODS)}")
        if self.round_to < 1:
            raise SettingError(f"prune.round_to must be at least 1, not {self.round_to}", hint="e.g. 8")
        check_patterns(self.overrides)


@dataclass
class ChannelPlan:
    graph: ChannelGraph
    kept: dict[int, np.ndarray]  # group id -> channel indices kept
    ratios: dict[int, float]  # group id -> fraction asked to be removed
    ratio: float  # the global ratio used (searched under a MACs target)


@dataclass
class ChannelResult:
    model: object
    plan: ChannelPlan
    options: ChannelOptions
    layers: list[dict]
    surgery_metrics: dict  # loss and accuracy on the data right after surgery
    final_metrics: dict  # the fine-tuning's last epoch
    tuned_metrics: dict  # loss and accuracy on the data after fine-tuning
    flattened: list[str] = field(default_factory=list)
    compensated: list[str] = field(default_factory=list)  # layers whose bias took in the removed channels' means

    def summary(self) -> dict:
        total = {k: sum(row[k] for row in self.layers) for k in ("params_before", "params_after",
                                                                   "macs_before", "macs_after")}
        total["params_before"] = int(self.plan.graph.model.count_params())
        total["params_after"] = int(self.model.count_params())
        groups = self.plan.graph.prunable()
        return {"importance": self.options.importance, "ratio": self.plan.ratio,
                "target_macs": self.options.target_macs, "round_to": self.options.round_to,
                "distilled": self.options.distill, "groups": len(groups),
                "groups_shrunk": sum(len(self.plan.kept[g.id]) < g.width for g in groups),
                "fixed": fixed_reasons(self.plan.graph), "layers": self.layers, "total": total,
                "surgery_metrics": self.surgery_metrics, "final_metrics": self.final_metrics,
                "tuned_metrics": self.tuned_metrics,
                "flattened_nested_models": self.flattened, "bias_compensated": self.compensated}


def prune_channels(model, data: Dataset, options: ChannelOptions = ChannelOptions()) -> ChannelResult:
    """Plan, rebuild and fine-tune; the caller's model is left as it is."""
    require_keras(model, "structured pruning")
    if options.train is not None:  # the surgery alone takes any graph; fine-tuning needs one labelled output
        check_trainable(model, "structured pruning")
    if not is_graph_model(model):
        raise ModelError("structured pruning needs a Sequential or Functional model; this one is subclassed",
                         hint="rebuild it functionally, or prune it without --structured")
    model, flattened = flat_copy(model)
    plan = plan_channels(model, data, options)
    pruned = rebuild(plan.graph, plan.kept)
    compensated = compensate(plan.graph, plan.kept, pruned, data) if options.compensate and data is not None else []
    surgery = evaluate(pruned, data)
    final = _fine_tune(model, pruned, data, options) if options.train is not None else {}
    tuned = evaluate(pruned, data) if final else {}
    return ChannelResult(pruned, plan, options, layer_table(plan, pruned), surgery, final, tuned, flattened,
                         compensated)


def plan_channels(model, data: Dataset | None, options: ChannelOptions) -> ChannelPlan:
    graph = analyse(model)
    groups = graph.prunable()
    if not groups:
        raise ModelError(f"the model '{model.name}' has no channels that can be pruned",
                         hint="every channel reaches an input, an output or a layer surgery does not know: "
                              + "; ".join(fixed_reasons(graph)[:3]))
    check_patterns(options.overrides, [layer.name for layer in model.layers])
    importance = scores(graph, groups, options.importance, data)
    if options.target_macs is None:
        return _plan_at(graph, importance, options, options.ratio)
    return _search(graph, importance, options)


def _plan_at(graph: ChannelGraph, importance: dict, options: ChannelOptions, ratio: float) -> ChannelPlan:
    ratios = {g.id: group_ratio(graph, g, options, ratio) for g in graph.prunable()}
    kept = {}
    for g in graph.prunable():
        count = kept_count(g.width, ratios[g.id], options.round_to)
        kept[g.id] = np.sort(np.argsort(-importance[g.id], kind="stable")[:count])
    return ChannelPlan(graph, kept, ratios, ratio)


def group_ratio(graph: ChannelGraph, group, options: ChannelOptions, ratio: float) -> float:
    """One precedence, as for unstructured pruning: a name rule matching any layer of the group
    (the smallest, when several do), else a type rule of its producing layers, else global."""
    members = [graph.model.get_layer(n) for n in graph.members(group.id)]
    named = [resolve(m.name, "", LayerRules(None, {}, options.overrides)) for m in members]
    if any(v is not None for v in named):
        return min(v for v in named if v is not None)
    typed = [resolve("", type(m).__name__, LayerRules(None, options.by_type, {})) for m in members
             if m.name in group.producers]
    return min((v for v in typed if v is not None), default=ratio)  # ratio None: whether a rule applies


def kept_count(width: int, ratio: float, round_to: int) -> int:
    """Channels kept: (1 - ratio) of the width, rounded up to a multiple of round_to."""
    if width <= round_to:
        return width
    return min(width, max(round_to, math.ceil((1 - ratio) * width / round_to) * round_to))


def _search(graph: ChannelGraph, importance: dict, options: ChannelOptions) -> ChannelPlan:
    """The smallest global ratio whose MACs are within the target (bisection: MACs fall as the
    ratio grows, in steps of round_to channels)."""
    base = total_macs(graph, {})
    share = lambda r: total_macs(graph, _plan_at(graph, importance, options, r).kept) / base  # noqa: E731
    if share(MAX_RATIO) > options.target_macs:
        raise ModelError(f"removing {MAX_RATIO:.0%} of every prunable group's channels still leaves "
                         f"{share(MAX_RATIO):.0%} of the MACs, above the target {options.target_macs:.0%}",
                         hint="raise target_macs, lower round_to, or check the layers that keep their channels: "
                              + "; ".join(fixed_reasons(graph)[:3]))
    low, high = 0.0, MAX_RATIO
    for _ in range(20):
        mid = (low + high) / 2
        low, high = (low, mid) if share(mid) <= options.target_macs else (mid, high)
    return _fill(_plan_at(graph, importance, options, high), importance, options, base)


def _fill(plan: ChannelPlan, importance: dict, options: ChannelOptions, base: int) -> ChannelPlan:
    """Give channels back, round_to at a time and one group per turn, while the MACs stay
    within the target: groups of equal width all cross a rounding step at the same ratio, so
    the searched ratio alone can land far below the target."""
    graph = plan.graph
    free = [g for g in graph.prunable() if group_ratio(graph, g, options, None) is None]  # no rule of their own
    counts = {g.id: len(plan.kept[g.id]) for g in graph.prunable()}
    top = lambda g, n: np.sort(np.argsort(-importance[g.id], kind="stable")[:n])  # noqa: E731
    grown = True
    while grown:
        grown = False
        for g in free:
            more = min(g.width, counts[g.id] + options.round_to)
            trial = {**plan.kept, g.id: top(g, more)}
            if more > counts[g.id] and total_macs(graph, trial) <= options.target_macs * base:
                plan.kept, counts[g.id], grown = trial, more, True
    return plan


def total_macs(graph: ChannelGraph, kept: dict) -> int:
    return sum(model_macs(graph, kept).values())


def fixed_reasons(graph: ChannelGraph) -> list[str]:
    """Why the groups that keep their width do, one line per reason."""
    roots = {graph.root(g) for g in graph.groups}
    return sorted({graph.groups[r].fixed for r in roots if graph.groups[r].fixed})


def layer_table(plan: ChannelPlan, pruned) -> list[dict]:
    """Channels, parameters and MACs before and after, for every layer with weights or MACs."""
    graph, rows = plan.graph, []
    before, after = model_macs(graph, {}), model_macs(graph, plan.kept)
    for name in graph.outputs:
        old, new = graph.model.get_layer(name), pruned.get_layer(name)
        if not old.count_params() and not before[name]:
            continue
        rows.append({"layer": name, "type": type(old).__name__,
                     "channels_before": sum(w for _, w in graph.outputs[name]),
                     "channels_after": int(len(indices(graph, graph.outputs[name], plan.kept))),
                     "params_before": int(old.count_params()), "params_after": int(new.count_params()),
                     "macs_before": int(before[name]), "macs_after": int(after[name])})
    return rows


def evaluate(model, data: Dataset) -> dict:
    """Loss and accuracy on `data` (labelled), before any fine-tuning."""
    if data.y is None or len(model.outputs) != 1:
        return {}
    out = np.asarray(model.predict(model_inputs(data), batch_size=64, verbose=0))
    loss = label_loss(model, outputs_probabilities(model, data))(data.y, out)
    return {"loss": float(loss), "accuracy": float(np.mean(predicted_classes(out) == data.y))}


def _fine_tune(original, pruned, data: Dataset, options: ChannelOptions) -> dict:
    """Fine-tune, then re-estimate the BatchNorm statistics: a short fine-tune of a model whose
    channels were just removed moves the weights faster than the moving averages follow
    (ResNet-8 at half the MACs: 99% on its training data, 60% held out, 97.9% once refreshed)."""
    if options.distill:
        from .distill import DistillOptions, distill

        result = distill(original, pruned, data, DistillOptions(train=options.train))
        pruned.set_weights(result.student.get_weights())
        metrics = result.metrics
    else:
        compile_for_labels(pruned, options.train, outputs_probabilities(pruned, data), data)
        metrics = fit(pruned, data, options.train)
    refresh_batchnorm_statistics(pruned, data)
    return metrics
