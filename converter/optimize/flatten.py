"""Inline nested Keras models (a Functional or Sequential model used as a layer) into one flat
Functional model, so TFMOT's pruning and QAT wrappers reach the layers inside them.

TFMOT only wraps top-level layers: a nested model is one opaque layer to it. The outer graph
is replayed node by node, as tf_keras' Functional model runs itself, and every call of a
nested model is replaced by a replay of its own graph. The layer objects are reused, so the
flat model computes exactly what the original computes with the same weights.
"""
from __future__ import annotations

from .. import keras_env
from ..errors import ModelError
from ..inputs.models import is_graph_model
from .graph_replay import flat, replay
from .train import copy_model


def flat_copy(model):
    """(a flat copy of `model` for TFMOT, names of the nested models inlined). A subclassed
    model is returned as it is: the steps refuse it with their own message."""
    if not is_graph_model(model):
        return model, []
    return flatten_nested(copy_model(model))


def flatten_nested(model):
    """(flat model, names of the nested models inlined); the model itself when none is nested.
    Pass a copy: the flat model shares (and may rename) the layers of `model`."""
    nested = [layer for layer in model.layers if _is_nested(layer)]
    if not nested:
        return model, []
    for layer in nested:
        if len(layer.inbound_nodes) > 1:  # the same weights used twice cannot be two copies
            raise ModelError(f"the nested model '{layer.name}' is called {len(layer.inbound_nodes)} times "
                             "(shared weights), so it cannot be flattened for TFMOT",
                             hint="call each nested block once, or convert without pruning/QAT")
    names = [layer.name for layer in nested]
    _unique_names(_leaf_layers(model))
    keras = keras_env.keras()
    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t.name.split(":")[0]) for t in model.inputs]
    outputs = _replay(model, inputs)
    return keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=model.name), names


def _is_nested(layer) -> bool:
    keras = keras_env.keras()
    return isinstance(layer, keras.Model) and getattr(layer, "_is_graph_network", False)


def _replay(model, inputs: list) -> list:
    """Run `model`'s graph on `inputs` (Keras tensors), inlining nested graph models."""
    def call(node, args, kwargs):
        if _is_nested(node.layer):
            return _replay(node.layer, flat(args))
        return flat(node.layer(*args, **kwargs))

    return replay(model, inputs, call)


def _leaf_layers(model) -> list:
    return [leaf for layer in model.layers for leaf in (_leaf_layers(layer) if _is_nested(layer) else [layer])]


def _unique_names(layers: list) -> None:
    """Layers of different nested blocks may share a name; a flat model needs them unique.
    Only called on a copy of the user's model: the layers are renamed in place."""
    seen: dict[str, int] = {}
    for layer in layers:
        count = seen.get(layer.name, 0)
        seen[layer.name] = count + 1
        if count:
            layer._name = f"{layer.name}_{count}"
