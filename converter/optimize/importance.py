"""How much each channel of a prunable group matters, one score per channel (higher: keep).

- `bn`: |gamma| of the group's BatchNormalization layers (network slimming, Liu et al. 2017);
  a group without one falls back to `l1`.
- `l1` / `l2`: norm of each producing layer's filters, each layer's norms divided by their
  mean so that layers of a residual group count alike.
- `taylor`: first-order Taylor estimate of the loss change when the channel is removed
  (Molchanov et al. 2019), squared per batch of calibration data and summed. The channel is
  removed where other groups read it (the input side of each Conv/Dense that consumes it), and
  for a layer linear in its input, sum over the kernel's input-channel-c weights of w * dL/dw
  equals sum over positions of a_c * dL/da_c along that layer's path alone: residual paths are
  not counted twice. Labels when the data has them, else the model's own predictions.
"""
from __future__ import annotations

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset
from .channel_graph import DEPTHWISE, PRODUCERS, ChannelGraph, Group
from .train import model_inputs, outputs_probabilities

METHODS = ("bn", "taylor", "l1", "l2")
TAYLOR_SAMPLES = 256


def scores(graph: ChannelGraph, groups: list[Group], method: str, data: Dataset | None = None) -> dict[int, np.ndarray]:
    """{group id: score per channel}."""
    if method == "taylor":
        return _taylor(graph, groups, data)
    if method == "bn":
        return {g.id: _bn(graph, g) if _has_bn(graph, g) else _norm(graph, g, 1) for g in groups}
    return {g.id: _norm(graph, g, 1 if method == "l1" else 2) for g in groups}


def _slices(graph: ChannelGraph, group: Group):
    """(layer, offset, width) for every place the group's channels appear in a layer's output."""
    for name, segments in graph.outputs.items():
        offset = 0
        for gid, width in segments:
            if graph.root(gid) == group.id:
                yield graph.model.get_layer(name), offset, width
            offset += width


def _output_side(layer) -> tuple[str, ...]:
    """The weights of a layer that belong to its output channels."""
    kind = type(layer).__name__
    if kind.startswith("Separable"):
        return "pointwise_kernel", "bias"
    if kind in DEPTHWISE:
        return "depthwise_kernel", "bias"
    if kind in PRODUCERS:
        return "kernel", "bias"
    if kind == "BatchNormalization":
        return "gamma", "beta"
    return ()


def _per_channel(layer, short_name: str, value: np.ndarray) -> np.ndarray:
    """A weight as rows x channels (depthwise kernels hold their channels on axis -2)."""
    axis = -2 if short_name == "depthwise_kernel" else -1
    v = np.moveaxis(np.asarray(value), axis, -1)
    return v.reshape(-1, v.shape[-1])


def _short(variable) -> str:
    return variable.name.split("/")[-1].split(":")[0]


def _norm(graph: ChannelGraph, group: Group, order: int) -> np.ndarray:
    total = np.zeros(group.width)
    for layer, offset, width in _slices(graph, group):
        if layer.name not in group.producers:
            continue
        kernel = next(v for v in layer.weights if _short(v) == _output_side(layer)[0])
        norms = np.linalg.norm(_per_channel(layer, _short(kernel), kernel.numpy()), ord=order, axis=0)
        total += norms[offset:offset + width] / max(float(norms.mean()), 1e-12)
    return total


def _has_bn(graph: ChannelGraph, group: Group) -> bool:
    return any(type(layer).__name__ == "BatchNormalization" and layer.scale for layer, _, _ in _slices(graph, group))


def _bn(graph: ChannelGraph, group: Group) -> np.ndarray:
    total = np.zeros(group.width)
    for layer, offset, width in _slices(graph, group):
        if type(layer).__name__ == "BatchNormalization" and layer.scale:
            total += np.abs(layer.gamma.numpy()[offset:offset + width])
    return total


def _consumed(graph: ChannelGraph, group: Group):
    """(layer, offset, width) for every place a Conv/Dense layer reads the group's channels."""
    for name, segments in graph.inputs.items():
        layer = graph.model.get_layer(name)
        if type(layer).__name__ not in PRODUCERS:
            continue
        offset = 0
        for gid, width in segments:
            if graph.root(gid) == group.id:
                yield layer, offset, width
            offset += width


def _input_side(layer) -> str:
    return "depthwise_kernel" if type(layer).__name__.startswith("Separable") else "kernel"


def _taylor(graph: ChannelGraph, groups: list[Group], data: Dataset | None) -> dict[int, np.ndarray]:
    if data is None or not len(data):
        from ..errors import DataError
        raise DataError("the taylor importance needs calibration data", hint="pass --data, or use --importance bn")
    tf = keras_env.tf()
    model = graph.model
    places = [(g, layer, offset, width, next(v for v in layer.trainable_weights if _short(v) == _input_side(layer)))
              for g in groups for layer, offset, width in _consumed(graph, g)]
    variables = list({id(p[4]): p[4] for p in places}.values())
    totals = {g.id: np.zeros(g.width) for g in groups}
    probabilities = outputs_probabilities(model, data)
    count = min(len(data), TAYLOR_SAMPLES)
    for start in range(0, count, 32):
        x = model_inputs(data.take(np.arange(start, min(start + 32, count))))
        with tf.GradientTape() as tape:
            out = model(x, training=False)
            labels = data.y[start:start + 32] if data.y is not None else tf.argmax(out, axis=-1)
            loss = tf.reduce_mean(keras_env.keras().losses.sparse_categorical_crossentropy(
                labels, out, from_logits=not probabilities))
        grads = dict(zip(map(id, variables), tape.gradient(loss, variables)))
        batch = {g.id: np.zeros(g.width) for g in groups}
        for g, layer, offset, width, v in places:
            if grads[id(v)] is None:
                continue
            product = np.moveaxis(v.numpy() * grads[id(v)].numpy(), -2, -1)  # input channels last
            batch[g.id] += product.reshape(-1, product.shape[-1])[:, offset:offset + width].sum(axis=0)
        for gid, contribution in batch.items():
            totals[gid] += contribution ** 2
    return totals
