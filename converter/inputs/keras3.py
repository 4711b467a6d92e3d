"""Models saved by Keras 3: rebuilt in tf_keras (Keras 2), so TFMOT and the converter can work
on them, or, when that fails, exported natively; either way proven to compute what the
original computes.

Keras 3 loads the file; its config is translated to tf_keras' format layer by layer
(dtype policies, InputLayer's batch_shape, the functional graph's node format), the weights
are copied by layer name, and both models run on the same seeded random inputs. A model
tf_keras cannot express (custom or subclassed Keras 3 layers) is exported by Keras 3 itself
as a SavedModel and converted through its signature: no training steps, but conversion and
validation work.
"""
from __future__ import annotations

import inspect
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import keras_env
from ..errors import ModelError
from .savedmodel import load_signature_model

TOLERANCE = 1e-4  # max abs difference allowed between original and rebuilt outputs
_BASE_LAYER_KEYS = {"name", "trainable", "dtype", "batch_input_shape", "batch_size", "input_shape", "input_dim",
                    "dynamic", "autocast", "activity_regularizer"}
_IGNORED = {"quantization_config", "optional", "build_config"}  # Keras 3 only, no effect on inference


@dataclass
class Rebuild:
    model: object
    max_abs_diff: float
    tolerance: float = TOLERANCE
    dropped: dict[str, list[str]] = field(default_factory=dict)  # layer -> config keys tf_keras lacks

    def summary(self) -> dict:
        return {"source": "keras3", "max_abs_diff": self.max_abs_diff, "tolerance": self.tolerance,
                "dropped_config_keys": self.dropped}


def load_keras3_file(path: Path, trust_model: bool = False, custom: dict | None = None) -> tuple[object, dict]:
    """The model (tf_keras, or a SignatureModel when the rebuild fails) and how it was made."""
    original = load_keras3(path, trust_model, custom or {})
    try:
        r = rebuild(original, path)
        return r.model, r.summary()
    except ModelError as e:
        return export_native(original, path, e.message)


def export_native(original, path: Path, reason: str) -> tuple[object, dict]:
    """Keras 3's own SavedModel export, read back through its signature and proven equal."""
    with tempfile.TemporaryDirectory() as folder:
        original.export(folder, format="tf_saved_model", verbose=False)
        model = load_signature_model(Path(folder), f"its Keras 3 model cannot be rebuilt in tf_keras: {reason}")
    model.name = path.name
    diff = _max_diff(original, model)
    if not diff <= TOLERANCE:
        raise ModelError(f"Keras 3's export of {path} differs from the model by {diff:.3g} (tolerance {TOLERANCE})",
                         hint="re-save the model with tf_keras (TF_USE_LEGACY_KERAS=1)")
    return model, {"source": "keras3-export", "rebuild_failed": reason, "max_abs_diff": diff, "tolerance": TOLERANCE}


def rebuild(original, path: Path) -> Rebuild:
    kind = type(original).__name__
    if kind not in ("Sequential", "Functional"):
        raise ModelError(f"{path} holds a subclassed Keras 3 model ({kind}), which has no config to rebuild from",
                         hint="save it as a Functional/Sequential model, or as a SavedModel (model.export(...))")
    dropped: dict[str, list[str]] = {}
    config = original.get_config()
    config["layers"] = [_layer(entry, dropped) for entry in config["layers"]]
    keras = keras_env.keras()
    try:
        if kind == "Sequential":
            rebuilt = keras.Sequential.from_config(_sequential(config))
        else:
            rebuilt = keras.Model.from_config(_functional(config))
    except (ValueError, TypeError, KeyError) as e:
        raise ModelError(f"cannot rebuild the Keras 3 model {path} in tf_keras: {str(e).splitlines()[0][:300]}",
                         hint="re-save the model with tf_keras (TF_USE_LEGACY_KERAS=1)") from None
    _copy_weights(original, rebuilt)
    diff = _max_diff(original, rebuilt)
    if not diff <= TOLERANCE:
        raise ModelError(f"the tf_keras rebuild of {path} differs from the original by {diff:.3g} "
                         f"(tolerance {TOLERANCE}); config keys tf_keras lacks: {dropped or 'none'}",
                         hint="re-save the model with tf_keras (TF_USE_LEGACY_KERAS=1)")
    return Rebuild(rebuilt, diff, TOLERANCE, dropped)


def load_keras3(path: Path, trust_model: bool, custom: dict):
    from .models import load_failure

    k3 = keras_env.keras3()
    try:
        return k3.saving.load_model(path, custom_objects=custom, compile=False, safe_mode=not trust_model)
    except (ValueError, TypeError, KeyError, OSError) as e:
        if "Lambda" in str(e) or "safe_mode" in str(e):
            raise ModelError(f"{path} contains a Lambda layer, whose code would run when loaded",
                             hint="if you trust the file's author, pass --trust-model") from None
        raise load_failure(path, "keras", e, custom) from None


def _layer(entry: dict, dropped: dict) -> dict:
    """One layer entry of a Keras 3 config in tf_keras' format."""
    cls_name = entry["class_name"]
    cls = getattr(keras_env.keras().layers, cls_name, None)
    name = entry["config"].get("name", entry.get("name"))
    if cls is None or entry.get("module") not in (None, "keras.layers"):
        raise ModelError(f"layer '{name}' ({entry.get('module')}.{cls_name}) has no tf_keras equivalent",
                         hint="replace the layer with a built-in one, or save the model with tf_keras")
    config = {k: _value(v) for k, v in entry["config"].items() if k not in _IGNORED}
    if cls_name == "InputLayer":
        config["batch_input_shape"] = config.pop("batch_shape", config.get("batch_input_shape"))
    config = {k: v for k, v in config.items() if not k.endswith("_initializer")}  # weights are copied anyway
    accepted = _init_params(cls)
    lost = sorted(k for k in config if k not in accepted)
    if lost:
        dropped[name] = lost
    out = {"class_name": cls_name, "config": {k: v for k, v in config.items() if k in accepted}}
    if "inbound_nodes" in entry:
        out["name"] = entry.get("name", name)
        out["inbound_nodes"] = [_node(n) for n in entry["inbound_nodes"]]
    return out


def _init_params(cls) -> set[str]:
    """Constructor keywords a tf_keras layer accepts, following **kwargs up its base classes."""
    params = set(_BASE_LAYER_KEYS)
    for base in cls.__mro__:
        if "__init__" in vars(base):
            params |= set(inspect.signature(base.__init__).parameters) - {"self", "args", "kwargs"}
    return params


def _value(v):
    """Keras 3 serialises dtype policies, regularizers and constraints as module/class dicts."""
    if isinstance(v, dict) and "class_name" in v:
        if v["class_name"] in ("DTypePolicy", "FloatDTypePolicy"):
            return v["config"]["name"]
        return {"class_name": v["class_name"], "config": v.get("config", {})}
    return v


def _node(node: dict) -> list:
    """Keras 3 node {'args': [...keras tensors...], 'kwargs': {}} -> [[layer, node, tensor, kwargs], ...]."""
    history = []
    _collect_tensors(node.get("args", []), history)
    kwargs = {k: v for k, v in node.get("kwargs", {}).items() if not _is_tensor(v)}
    return [[*h, kwargs] for h in history]


def _collect_tensors(value, out: list) -> None:
    if _is_tensor(value):
        out.append(list(value["config"]["keras_history"]))
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect_tensors(v, out)


def _is_tensor(v) -> bool:
    return isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"


def _sequential(config: dict) -> dict:
    return {"name": config["name"], "layers": config["layers"]}


def _functional(config: dict) -> dict:
    def triples(v):
        return [v] if v and isinstance(v[0], str) else v

    return {"name": config["name"], "layers": config["layers"],
            "input_layers": triples(config["input_layers"]), "output_layers": triples(config["output_layers"])}


def _copy_weights(original, rebuilt) -> None:
    for layer in original.layers:
        weights = layer.get_weights()
        if weights:
            rebuilt.get_layer(layer.name).set_weights(weights)


def _max_diff(original, rebuilt) -> float:
    rng = np.random.default_rng(0)
    # free dimensions (None) get a size large enough for the usual kernels and strides
    inputs = [rng.standard_normal((4, *(d or 32 for d in t.shape[1:]))).astype(np.float32) for t in rebuilt.inputs]
    x = inputs[0] if len(inputs) == 1 else inputs
    a = original.predict(x, verbose=0)
    b = rebuilt.predict(x, verbose=0)
    a, b = (a if isinstance(a, list) else [a]), (b if isinstance(b, list) else [b])
    return float(max(np.max(np.abs(np.asarray(p) - np.asarray(q))) for p, q in zip(a, b)))
