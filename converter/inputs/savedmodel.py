"""Models known only by a serving signature: plain SavedModels (tf.saved_model.save of a
tf.Module, Keras 3's model.export) and Keras 3 models exported that way.

They have no Keras layers, so they cannot be pruned or trained here, but they convert and
validate: SignatureModel offers the part of a Keras model's interface those steps use
(`inputs`, `outputs`, `output_names`, calling it, `predict`), with inputs and outputs named
as in the signature.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import keras_env
from ..errors import ModelError

SERVING_KEYS = ("serving_default", "serve")
PLAIN_SAVEDMODEL = "it is a plain SavedModel (a TensorFlow program with a serving signature, no Keras layers)"


class SignatureModel:
    def __init__(self, root, key: str, name: str, why_not_keras: str):
        self.trackable = root  # keeps the variables alive; the TFLite converter saves it
        self.signature = key
        self.name = name
        self.why_not_keras = why_not_keras  # for the steps that need Keras layers
        self._fn = root.signatures[key]
        specs = self._fn.structured_input_signature[1]
        self.input_names = sorted(specs)
        self.inputs = [specs[n] for n in self.input_names]  # TensorSpecs: .name and .shape, as Keras inputs
        self.output_names = sorted(self._fn.structured_outputs, key=_natural)  # output_2 before output_10
        self.outputs = [self._fn.structured_outputs[n] for n in self.output_names]

    def __call__(self, x, training=False):
        """Like a Keras model: one tensor for one output, else a list in `output_names` order."""
        tf = keras_env.tf()
        xs = x if isinstance(x, (list, tuple)) else [x]
        out = self._fn(**{n: tf.cast(v, s.dtype) for n, s, v in zip(self.input_names, self.inputs, xs)})
        outs = [out[n] for n in self.output_names]
        return outs[0] if len(outs) == 1 else outs

    def predict(self, x, batch_size: int = 256, verbose: int = 0):
        xs = x if isinstance(x, (list, tuple)) else [x]
        parts = [self([v[i:i + batch_size] for v in xs]) for i in range(0, len(xs[0]), batch_size)]
        parts = [p if isinstance(p, list) else [p] for p in parts]
        outs = [np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(len(self.output_names))]
        return outs[0] if len(outs) == 1 else outs

    def count_params(self) -> int:
        return int(sum(np.prod(v.shape) for v in self._fn.variables))


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def load_signature_model(path: Path, why_not_keras: str = PLAIN_SAVEDMODEL) -> SignatureModel:
    """Load a SavedModel's serving signature. The graph must have been checked (or trusted)
    first: loading runs its restore and init ops."""
    tf = keras_env.tf()
    try:
        root = tf.saved_model.load(str(path))
    except Exception as e:  # TF raises many kinds (NotFoundError, ValueError, op not registered)
        detail = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ModelError(f"cannot load the SavedModel {path}: {detail}",
                         hint="check that the folder is complete and was written by tf.saved_model.save") from None
    return SignatureModel(root, _serving_key(path, root.signatures), Path(path).name, why_not_keras)


def _serving_key(path: Path, signatures) -> str:
    keys = sorted(signatures)
    found = [k for k in SERVING_KEYS if k in keys] or (keys if len(keys) == 1 else [])
    if not found:
        listed = ", ".join(keys) or "none"
        raise ModelError(f"the SavedModel {path} has no serving signature (signatures: {listed})",
                         hint="save it with tf.saved_model.save(module, path, signatures=module.__call__), "
                              "whose function has an input_signature")
    return found[0]
