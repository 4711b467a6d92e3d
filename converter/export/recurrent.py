"""Recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional ones) unrolled before calibration.

TFLite turns a recurrent layer with unroll=False into a WHILE loop, and TensorFlow 2.21's
int8 calibrator crashes natively on those (SIGSEGV, seen on LSTM and GRU). Unrolled, the
same layer is a fixed chain of integer-friendly ops. So, for a Sequential or Functional
tf_keras model, edgeconv rebuilds the recurrent layers with unroll=True (and LSTM/GRU with
implementation=1, see _set_unroll; same weights), feeds
the rebuilt model inputs of the fixed shapes the .tflite will have, and proves it computes
what the original does before converting it.

The rebuild shares every other layer with the original model (no config round trip for
custom layers): only the recurrent layers, their wrappers and the nested models holding them
are new objects.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import keras_env
from ..errors import ConversionError
from ..inputs.data import Dataset
from ..inputs.models import is_graph_model

TOLERANCE = 1e-4  # max abs difference allowed between the unrolled and the original outputs
PROOF_SAMPLES = 16
_KEEP_HINT = ("construct the recurrent layers with unroll=True (a fixed sequence length), or use --mode dynamic, "
              "which keeps the loop and does not calibrate")


@dataclass
class Unrolled:
    layers: list[str]      # the recurrent layers that were loops, by name
    input_shapes: list     # the input shapes (without batch) the unrolled model was built for
    max_abs_diff: float     # unrolled vs original outputs, on the calibration samples
    samples: int

    def summary(self) -> dict:
        return {"layers": self.layers, "input_shapes": self.input_shapes,
                "max_abs_diff": float(f"{self.max_abs_diff:.3g}"), "proof_samples": self.samples}

    def warning(self) -> str:
        return (f"recurrent layers {', '.join(self.layers)} were unrolled for conversion (TFLite's int8 calibrator "
                f"crashes on their loops); same weights, outputs within {self.max_abs_diff:.1e} of the original's on "
                f"{self.samples} samples; the .tflite takes only sequences of the length it was built for")


def loops(model) -> list:
    """The recurrent layers of the model, nested models and wrappers included, that would
    become WHILE loops."""
    rnn = keras_env.keras().layers.RNN
    return [layer for layer in _walk(model) if isinstance(layer, rnn) and not layer.unroll]


def unroll(model, shapes: list[tuple], calib: Dataset):
    """The model to convert, and what was unrolled (None: nothing to do). `shapes` are the
    fixed input shapes of the .tflite (free time dimensions already taken from the data)."""
    found = loops(model)
    if not found:
        return model, None
    names = ", ".join(layer.name for layer in found)
    if stateful := [layer.name for layer in found if layer.stateful]:
        raise ConversionError(
            f"the model has stateful recurrent layers ({', '.join(stateful)}): their state lives in variables "
            "carried from one call to the next, and TFLite keeps those in float (READ_VARIABLE/ASSIGN_VARIABLE, "
            "seen with the layers unrolled; as loops TensorFlow's int8 calibrator crashes), so the model cannot be "
            "fully integer",
            hint="convert a stateless copy (stateful=False) that takes the state as an extra input and returns it "
                 "as an extra output, so the device carries it between calls")
    if not is_graph_model(model):
        raise ConversionError(f"the subclassed model '{model.name}' has recurrent layers ({names}) that TFLite "
                              "turns into WHILE loops, which TensorFlow's int8 calibrator crashes on; edgeconv can "
                              "unroll them only in Sequential and Functional models", hint=_KEEP_HINT)
    rebuilt = _rebuild(model, shapes)
    diff, samples = _max_abs_diff(model, rebuilt, calib)
    if not diff <= TOLERANCE:
        raise ConversionError(f"the model with its recurrent layers ({names}) unrolled computes other outputs than "
                              f"the original (max abs difference {diff:.3g} > {TOLERANCE})", hint=_KEEP_HINT)
    return rebuilt, Unrolled([layer.name for layer in found], [list(s[1:]) for s in shapes], diff, samples)


def _walk(layer):
    """The layer and every layer inside it: a model's layers, a wrapper's wrapped layers."""
    yield layer
    keras = keras_env.keras()
    if isinstance(layer, keras.layers.Bidirectional):
        children = [layer.forward_layer, layer.backward_layer]
    elif isinstance(layer, keras.layers.Wrapper):
        children = [layer.layer]
    else:
        children = getattr(layer, "layers", []) if isinstance(layer, keras.Model) else []
    for child in children:
        yield from _walk(child)


def _rebuild(model, shapes: list[tuple] | None):
    """A copy of the graph model with unrolled recurrent layers and the original's weights;
    with `shapes`, its inputs have those (fixed) shapes, which unrolling needs."""
    keras = keras_env.keras()
    pairs: list[tuple] = []  # (original layer, its unrolled rebuild), to copy weights once built

    def clone(layer):
        if not loops(layer):
            return layer  # shared as it is: its weights stay the original's
        if is_graph_model(layer):
            return _rebuild(layer, None)
        config = layer.get_config()
        _set_unroll(config)
        new = layer.__class__.from_config(config)
        pairs.append((layer, new))
        return new

    inputs = None
    if shapes is not None:
        inputs = [keras.Input(batch_shape=(s[0], *s[1:]), name=t.name.split(":")[0], dtype=t.dtype)
                  for s, t in zip(shapes, model.inputs)]
    rebuilt = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)
    for old, new in pairs:
        new.set_weights(old.get_weights())
    return rebuilt


def _set_unroll(config) -> None:
    """unroll=True everywhere in a layer's config: a Bidirectional's forward and backward
    layers, a wrapped RNN, the layer itself."""
    if isinstance(config, dict):
        if "unroll" in config:
            config["unroll"] = True
        if "implementation" in config:
            # LSTM and GRU: implementation 2 SPLITs each step's gate pre-activations, and in the first
            # step (zero state) one of those is a constant (GRU) or unused (LSTM's forget gate), which
            # the quantizer leaves in float, sometimes; implementation 1 splits only the weights
            config["implementation"] = 1
        for value in config.values():
            _set_unroll(value)
    elif isinstance(config, list):
        for value in config:
            _set_unroll(value)


def _max_abs_diff(model, rebuilt, calib: Dataset) -> tuple[float, int]:
    """Both models on the first calibration samples (inputs of the shapes the .tflite takes)."""
    n = min(PROOF_SAMPLES, len(calib))
    xs = [x[:n].astype(np.float32) for x in calib.inputs]
    feed = xs[0] if len(xs) == 1 else xs
    tf = keras_env.tf()
    a = tf.nest.flatten(model(feed, training=False))
    b = tf.nest.flatten(rebuilt(feed, training=False))
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b)), n
