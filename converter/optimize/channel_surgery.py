"""Rebuild a model with channels removed: each layer made again from its config (fewer filters
or units where its output group shrinks), the graph replayed node by node, and every weight
sliced to the channels kept on its input and output axes. Nothing is approximated: when the
removed channels are zero, the smaller model computes exactly what the original computes.
Also the MACs of a layer for given channel widths, so a MACs target is searched without
rebuilding anything."""
from __future__ import annotations

import numpy as np

from .. import keras_env
from .channel_graph import DEPTHWISE, PRODUCERS, ChannelGraph
from .graph_replay import flat, replay

Kept = dict  # group root id -> sorted indices of the channels kept


def indices(graph: ChannelGraph, segments, kept: Kept) -> np.ndarray:
    """The kept channel indices of a tensor laid out as `segments`."""
    parts, offset = [], 0
    for gid, width in segments:
        chosen = kept.get(graph.root(gid))
        parts.append(offset + (np.arange(width) if chosen is None else np.asarray(chosen)))
        offset += width
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def rebuild(graph: ChannelGraph, kept: Kept):
    """The smaller model; the original is left as it is."""
    keras = keras_env.keras()
    model = graph.model
    layers = {layer.name: _smaller(layer, graph, kept) for layer in model.layers
              if type(layer).__name__ != "InputLayer"}
    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t.name.split(":")[0]) for t in model.inputs]
    outputs = _replay(model, inputs, layers)
    pruned = keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=model.name)
    for name, layer in layers.items():
        old = model.get_layer(name)
        layer.set_weights(sliced_weights(old, indices(graph, graph.inputs.get(name, []), kept),
                                         indices(graph, graph.outputs[name], kept)))
    return pruned


def _smaller(layer, graph: ChannelGraph, kept: Kept):
    config = layer.get_config()
    kind = type(layer).__name__
    if kind in PRODUCERS:
        key = "units" if kind == "Dense" else "filters"
        config[key] = int(len(indices(graph, graph.outputs[layer.name], kept)))
    if kind == "Reshape" and config["target_shape"][-1] != -1:  # it keeps the channel axis last
        width = int(len(indices(graph, graph.outputs[layer.name], kept)))
        config["target_shape"] = (*config["target_shape"][:-1], width)
    return type(layer).from_config(config)


def _replay(model, inputs: list, layers: dict) -> list:
    """Run `model`'s graph on `inputs` with the new layers."""
    return replay(model, inputs, lambda node, args, kwargs: flat(layers[node.layer.name](*args, **kwargs)))


def sliced_weights(layer, keep_in: np.ndarray, keep_out: np.ndarray) -> list[np.ndarray]:
    """The layer's weights with only the kept input and output channels (Keras layouts:
    kernels end in (..., in, out); depthwise kernels in (..., channels, multiplier))."""
    kind = type(layer).__name__
    w = layer.get_weights()
    if kind in ("Conv1D", "Conv2D", "Conv3D", "Dense"):
        return [w[0].take(keep_in, -2).take(keep_out, -1), *(b.take(keep_out) for b in w[1:])]
    if kind in DEPTHWISE:
        return [w[0].take(keep_in, -2), *(b.take(keep_in) for b in w[1:])]
    if kind in ("SeparableConv1D", "SeparableConv2D"):
        return [w[0].take(keep_in, -2), w[1].take(keep_in, -2).take(keep_out, -1), *(b.take(keep_out) for b in w[2:])]
    if kind in ("BatchNormalization", "PReLU"):
        return [v.take(keep_in, -1) for v in w]
    return w  # no per-channel weights, or a layer whose channels are fixed


def layer_macs(layer, width_in: int, width_out: int) -> int:
    """Multiply-accumulates of one call of `layer` with these channel widths (Keras shapes;
    the spatial size does not change with pruning)."""
    kind, spatial, window = _cost_shape(layer)
    return _macs(kind, spatial, window, width_in, width_out)


def _cost_shape(layer) -> tuple[str, int, int]:
    kind = type(layer).__name__
    if kind not in PRODUCERS + DEPTHWISE:
        return kind, 0, 0
    shape = layer.get_output_shape_at(0)  # a shared layer: its first call
    spatial = int(np.prod([d for d in shape[1:-1] if d is not None])) if len(shape) > 2 else 1
    return kind, spatial, int(np.prod(getattr(layer, "kernel_size", 1)))


def _macs(kind: str, spatial: int, window: int, width_in: int, width_out: int) -> int:
    if kind == "Dense":
        return spatial * width_in * width_out
    if kind in DEPTHWISE:
        return spatial * window * width_in
    if kind.startswith("Separable"):
        return spatial * width_in * (window + width_out)
    return spatial * window * width_in * width_out


def model_macs(graph: ChannelGraph, kept: Kept) -> dict[str, int]:
    """MACs per layer of the model pruned to `kept` (fast: a MACs target is searched with it)."""
    if graph.costs is None:
        graph.costs = [(name, _cost_shape(graph.model.get_layer(name))) for name in graph.outputs]
    return {name: _macs(*cost, _width(graph, graph.inputs.get(name, []), kept),
                        _width(graph, graph.outputs[name], kept)) if cost[1] else 0 for name, cost in graph.costs}


def _width(graph: ChannelGraph, segments, kept: Kept) -> int:
    return sum(width if (chosen := kept.get(graph.root(gid))) is None else len(chosen) for gid, width in segments)
