"""What removed channels contributed, folded into the next layer's bias.

A removed channel is rarely zero: one whose BatchNorm gamma is near 0 outputs the constant
act(beta), and a sigmoid channel outputs 0.5 at rest. Surgery drops that contribution. For each
channel-mixing layer (Conv, Dense) that loses input channels, the mean of each removed input
channel over the data, times its kernel weights summed over the window, is added to the bias:
exact for constant channels (up to 'same' padding at the borders), a first-order correction
otherwise, and nothing when the removed channels are zero (zero-ablation stays exact).
"""
from __future__ import annotations

import numpy as np

from .. import keras_env
from ..inputs.data import Dataset
from .channel_graph import ChannelGraph
from .channel_surgery import Kept, indices
from .train import model_inputs

MIXERS = ("Conv1D", "Conv2D", "Conv3D", "Dense")
SAMPLES = 256  # enough for a per-channel mean


def compensate(graph: ChannelGraph, kept: Kept, pruned, data: Dataset) -> list[str]:
    """Shift the biases of `pruned` (in place); returns the layers whose bias changed."""
    removed = _removed_inputs(graph, kept)
    if not removed:
        return []
    means = _input_means(graph.model, list(removed), data)
    for name, gone in removed.items():
        kernel = graph.model.get_layer(name).get_weights()[0]  # (..., in, out)
        window = kernel.take(gone, -2).reshape(-1, len(gone), kernel.shape[-1]).sum(axis=0)
        shift = (means[name][gone] @ window)[indices(graph, graph.outputs[name], kept)]
        _add_to_bias(pruned.get_layer(name), shift)
    return list(removed)


def _add_to_bias(layer, shift: np.ndarray) -> None:
    """Add `shift` to the layer's output: its bias, or for a bias-free conv the moving mean of
    the BatchNormalization it feeds (BN(y + s) is BN(y) with its mean lowered by s)."""
    if layer.use_bias:
        layer.bias.assign(layer.bias.numpy() + shift.astype(np.float32))
    else:
        norm = _only_batchnorm_after(layer)
        norm.moving_mean.assign(norm.moving_mean.numpy() - shift.astype(np.float32))


def _removed_inputs(graph: ChannelGraph, kept: Kept) -> dict[str, np.ndarray]:
    """{mixing layer with a bias and one call: its removed input channel indices}."""
    out = {}
    for layer in graph.model.layers:
        if type(layer).__name__ not in MIXERS or len(layer.inbound_nodes) != 1:
            continue
        if not layer.use_bias and _only_batchnorm_after(layer) is None:
            continue  # nowhere to put the shift
        segments = graph.inputs.get(layer.name, [])
        gone = np.setdiff1d(indices(graph, segments, {}), indices(graph, segments, kept))
        if gone.size:
            out[layer.name] = gone
    return out


def _only_batchnorm_after(layer):
    """The BatchNormalization that is the layer's only consumer (over the channel axis), or None."""
    consumers = [node.outbound_layer for node in layer.outbound_nodes]
    if len(consumers) == 1 and type(consumers[0]).__name__ == "BatchNormalization":
        axis = consumers[0].axis
        return consumers[0] if list(axis if isinstance(axis, (list, tuple)) else [axis]) in ([-1], [len(layer.output_shape) - 1]) else None
    return None


def _input_means(model, names: list[str], data: Dataset) -> dict[str, np.ndarray]:
    """Per-channel mean of each named layer's input over (up to SAMPLES of) the data."""
    keras = keras_env.keras()
    probe = keras.Model(model.inputs, [model.get_layer(n).input for n in names])
    outputs = probe.predict(model_inputs(data, SAMPLES), batch_size=64, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return {n: np.asarray(x).reshape(-1, x.shape[-1]).mean(axis=0) for n, x in zip(names, outputs)}
