"""Which channels of a functional tf_keras model can be removed together: the channel groups.

Every tensor's last axis is a list of segments, each a slice of one channel group. A Conv/Dense
layer starts a new group (its filters); BatchNormalization, activations, pooling and dropout
pass their input's segments on; DepthwiseConv2D ties its output to its input (one filter per
channel); Add/Multiply and the like merge the groups of their inputs (union-find: a residual
chain is one group); Concatenate lays its inputs' segments side by side, and Flatten repeats
them once per position. Anything else (and
the model's own inputs and outputs) fixes the groups it touches: their width cannot change.
A group that is not fixed and has a producing layer can be pruned.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PRODUCERS = ("Conv1D", "Conv2D", "Conv3D", "Dense", "SeparableConv1D", "SeparableConv2D")
DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")
MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
# element-wise per channel or spatial only: channel c of the output depends on channel c only
PASS_THROUGH = ("BatchNormalization", "ReLU", "LeakyReLU", "ELU", "PReLU", "ThresholdedReLU", "Dropout",
                "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
                "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
                "GlobalMaxPooling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D",
                "UpSampling1D", "UpSampling2D", "ActivityRegularization", "Activation", "Rescaling")

Segment = tuple  # (group id, width)


@dataclass
class Group:
    id: int
    width: int
    fixed: str | None = None  # why its width must stay
    producers: list[str] = field(default_factory=list)  # layers whose filters make these channels


@dataclass
class ChannelGraph:
    """The groups of a model and, per layer, the segments of its input and output channels."""
    model: object
    groups: dict[int, Group]
    parent: dict[int, int]
    inputs: dict[str, list[Segment]]  # layer name -> segments of its (first) input's last axis
    outputs: dict[str, list[Segment]]
    concat_inputs: dict[str, list[list[Segment]]]  # Concatenate layers: each input's segments
    costs: list | None = None  # per layer (name, (type, spatial size, window)), filled by channel_surgery

    def root(self, gid: int) -> int:
        while self.parent[gid] != gid:
            self.parent[gid] = self.parent[self.parent[gid]]
            gid = self.parent[gid]
        return gid

    def prunable(self) -> list[Group]:
        """The groups whose channels can be removed, in the order of the model's layers."""
        roots = {self.root(g) for g in self.groups}
        return [self.groups[r] for r in sorted(roots) if not self.groups[r].fixed and self.groups[r].producers]

    def members(self, gid: int) -> list[str]:
        """The layers with an output channel in group `gid` (its producers, their BatchNorms and
        activations): a rule naming a layer is about the channels it makes, not those it reads."""
        r = self.root(gid)
        return [name for name in self.outputs if any(self.root(g) == r for g, _ in self.outputs[name])]


def analyse(model) -> ChannelGraph:
    """The channel groups of a flat Functional model (nested models inlined first)."""
    graph = ChannelGraph(model, {}, {}, {}, {}, {})
    layouts: dict[str, list[Segment]] = {}
    for x in model.inputs:
        layouts[str(id(x))] = [_new(graph, _width(x), fixed="a model input")]
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            ins = [layouts[i] for i in node.flat_input_ids]
            outs = _node_outputs(graph, node.layer, ins, node)
            for x_id, out in zip(node.flat_output_ids, outs):
                layouts[x_id] = out
    for x in model.outputs:
        _fix(graph, layouts[str(id(x))], "a model output")
    return graph


def _node_outputs(graph: ChannelGraph, layer, ins: list[list[Segment]], node) -> list[list[Segment]]:
    kind = type(layer).__name__
    name = layer.name
    outputs = node_outputs(node)
    why = _unsupported(layer, kind, ins)
    if why:
        for segments in ins:
            _fix(graph, segments, why)
        outs = [[_new(graph, _width(x), fixed=why)] for x in outputs]
        _remember(graph, name, ins[0] if ins else [], outs[0])
        return outs
    if kind in PRODUCERS:
        if name in graph.outputs:  # a shared layer: every call uses the same filters
            _tie(graph, graph.inputs[name], ins[0], name)
            return [graph.outputs[name]]
        out = [_new(graph, _width(outputs[0]), producer=name)]
    elif kind in MERGES:
        for other in ins[1:]:
            _tie(graph, ins[0], other, name)
        out = ins[0]
    elif kind == "Concatenate":
        graph.concat_inputs[name] = ins
        out = [s for segments in ins for s in segments]
    elif kind == "Flatten":  # channels last: position p, channel c lands at p * C + c
        out = ins[0] * int(np.prod(layer.input_shape[1:-1]))
    else:  # depthwise and pass-through: output channel c is input channel c
        out = ins[0]
    if name in graph.outputs and kind not in MERGES:
        _tie(graph, graph.outputs[name], out, name)
    _remember(graph, name, ins[0], out)
    return [out]


def node_outputs(node) -> list:
    """A node's output tensors as a list (a single-output node holds the tensor itself)."""
    from .. import keras_env

    return keras_env.tf().nest.flatten(node.outputs)


def _unsupported(layer, kind: str, ins: list[list[Segment]]) -> str | None:
    """Why the layer's channels cannot follow the groups, or None."""
    what = f"{kind} layer '{layer.name}'"
    known = PRODUCERS + DEPTHWISE + MERGES + PASS_THROUGH + ("Concatenate", "Flatten", "Reshape")
    if kind not in known or len(ins) == 0 or (kind not in MERGES + ("Concatenate",) and len(ins) != 1):
        return f"used by the {what}, which surgery does not know"
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return f"used by the {what} (channels first)"
    if getattr(layer, "groups", 1) != 1:
        return f"used by the grouped {what}"
    if kind in DEPTHWISE + ("SeparableConv1D", "SeparableConv2D") and layer.depth_multiplier != 1:
        return f"used by the {what} (depth multiplier {layer.depth_multiplier})"
    if kind == "BatchNormalization" and list(layer.axis) not in ([-1], [len(layer.input_shape) - 1]):
        return f"normalised across another axis by the {what}"
    if kind == "Activation" and layer.get_config()["activation"] in ("softmax", "log_softmax"):
        return f"mixed across channels by the {what}"
    if kind == "Rescaling" and not all(isinstance(v, (int, float)) for v in (layer.scale, layer.offset)):
        return f"rescaled per channel by the {what}"
    if kind == "Reshape" and tuple(layer.input_shape)[-1:] != tuple(layer.output_shape)[-1:]:
        return f"reshaped across channels by the {what}"  # same last axis (e.g. SE's (C,) -> (1, 1, C)) keeps c
    if kind == "Flatten" and (len(layer.input_shape) < 3 or None in layer.input_shape[1:]):
        return f"flattened from a free shape by the {what}"
    if kind == "Concatenate" and layer.axis not in (-1, len(layer.input_shape[0]) - 1):
        return f"concatenated along another axis by the {what}"
    if kind == "PReLU" and layer.get_weights()[0].shape[-1] != sum(w for _, w in ins[0]):
        return f"used by the {what} (shared alpha across channels)"
    if kind in MERGES and len({tuple(w for _, w in s) for s in ins}) != 1:
        return f"broadcast by the {what}"
    return None


def _remember(graph: ChannelGraph, name: str, ins: list[Segment], out: list[Segment]) -> None:
    graph.inputs.setdefault(name, ins)
    graph.outputs.setdefault(name, out)


def _new(graph: ChannelGraph, width: int, fixed: str | None = None, producer: str | None = None) -> Segment:
    gid = len(graph.groups)
    graph.groups[gid] = Group(gid, width, fixed, [producer] if producer else [])
    graph.parent[gid] = gid
    return gid, width


def _tie(graph: ChannelGraph, a: list[Segment], b: list[Segment], name: str) -> None:
    """The channels of a and b must stay aligned: merge their groups, segment by segment."""
    if [w for _, w in a] != [w for _, w in b]:  # differently split (e.g. a concat added to a conv)
        _fix(graph, a + b, f"joined unevenly by the layer '{name}'")
        return
    for (ga, _), (gb, _) in zip(a, b):
        ra, rb = graph.root(ga), graph.root(gb)
        if ra == rb:
            continue
        keep, gone = min(ra, rb), max(ra, rb)
        graph.parent[gone] = keep
        graph.groups[keep].producers += graph.groups[gone].producers
        graph.groups[keep].fixed = graph.groups[keep].fixed or graph.groups[gone].fixed


def _fix(graph: ChannelGraph, segments: list[Segment], why: str) -> None:
    for gid, _ in segments:
        group = graph.groups[graph.root(gid)]
        group.fixed = group.fixed or why


def _width(tensor) -> int:
    shape = tuple(tensor.shape)
    return int(shape[-1]) if shape and shape[-1] is not None else 0
