"""Run a tf_keras Functional model's graph node by node on new inputs, as Functional runs
itself, with each layer call chosen by the caller: flattening inlines nested models this way,
channel surgery swaps in the narrower layers."""
from __future__ import annotations

from typing import Callable

from .. import keras_env


def replay(model, inputs: list, call: Callable) -> list:
    """`model`'s outputs computed from `inputs`; `call(node, args, kwargs)` gives the flat
    list of a node's outputs in place of `node.layer(*args, **kwargs)`."""
    tensors = {}
    for x, y in zip(model.inputs, inputs):
        tensors[str(id(x))] = [y] * model._tensor_usage_count[str(id(x))]
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input or any(t not in tensors for t in node.flat_input_ids):
                continue
            args, kwargs = node.map_arguments(tensors)
            for x_id, y in zip(node.flat_output_ids, call(node, args, kwargs)):
                tensors[x_id] = [y] * model._tensor_usage_count[x_id]
    return [tensors[str(id(x))].pop() for x in model.outputs]


def flat(structure) -> list:
    """A layer's nested outputs (or a node's nested arguments) as one list."""
    return keras_env.tf().nest.flatten(structure)
