"""Find what a model file would run when loaded, by reading its stored config as plain data.

Keras rebuilds a model by deserialising its config, and some configs run code on the way:
a Lambda layer carries Python bytecode, and a `module` entry makes the loader import that
module (tf_keras' .keras loader imports any module named there, safe mode or not). So every
format's config is read as JSON, without Keras, and checked before anything is deserialised.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

# Packages whose classes the loaders may import: Keras, TensorFlow (e.g. the initialisers of
# tf_keras EfficientNetV2) and TFMOT's wrappers: code already installed and trusted.
KNOWN_PACKAGES = {"keras", "tf_keras", "tensorflow", "tensorflow_model_optimization", "builtins"}
TRUST_HINT = ("if you trust the file's author (and the code it needs), pass --trust-model, or --import the "
              "code that defines its custom layers")


@dataclass(frozen=True)
class CodeEntry:
    layer: str  # the layer whose config holds the entry
    reason: str


def refuse_code(path: Path, fmt: str) -> None:
    """Raise ModelError naming the first layer whose config would run or import code."""
    entries = list({e.layer: e for e in reversed(code_entries(stored_configs(path, fmt)))}.values())[::-1]
    if entries:  # one entry per layer, the first reason found in it
        first = entries[0]
        more = f" (and {len(entries) - 1} more layers)" if len(entries) > 1 else ""
        raise ModelError(f"{path.name} would run code when loaded: layer '{first.layer}' {first.reason}{more}",
                         hint=TRUST_HINT)
    if fmt == "savedmodel":
        from .graph_safety import refuse_graph_ops

        refuse_graph_ops(path)


def stored_configs(path: Path, fmt: str) -> list:
    """The model configs a file stores, as JSON values; no Keras object is created."""
    try:
        if fmt == "keras":
            return [_keras_zip_config(path)]
        if fmt == "h5":
            return _h5_configs(path)
        return _savedmodel_configs(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise ModelError(f"cannot read the model config of {path}: {str(e).splitlines()[0][:200]}",
                         hint="check that the file is complete") from None


def code_entries(config, layer: str = "(model)") -> list[CodeEntry]:
    """Every place in a config that would run Python code or import a module on load."""
    found: list[CodeEntry] = []
    if isinstance(config, list):
        for item in config:
            found += code_entries(item, layer)
    elif isinstance(config, dict):
        layer = _layer_name(config, layer)
        reason = _code_reason(config)
        if reason:
            found.append(CodeEntry(layer, reason))
        for value in config.values():
            found += code_entries(value, layer)
    return found


def _code_reason(entry: dict) -> str | None:
    if entry.get("class_name") == "Lambda":
        return "is a Lambda layer, whose Python code is stored in the file"
    if entry.get("class_name") == "__lambda__" or entry.get("function_type") == "lambda":
        return "holds a Python function stored as bytecode"
    module = entry.get("module")
    if isinstance(module, str) and module.split(".")[0] not in KNOWN_PACKAGES:
        return f"needs {module}.{entry.get('class_name')}: loading it would import {module}"
    return None


def _layer_name(entry: dict, default: str) -> str:
    config = entry.get("config")
    if "class_name" in entry and isinstance(config, dict) and isinstance(config.get("name"), str):
        return config["name"]
    return default


def _keras_zip_config(path: Path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


def _h5_configs(path: Path) -> list:
    import h5py  # installed with TensorFlow; reading attributes runs no model code

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
    if raw is None:
        return []
    return [json.loads(raw.decode() if isinstance(raw, bytes) else raw)]


def _savedmodel_configs(path: Path) -> list:
    """tf_keras revives layers from the JSON strings of keras_metadata.pb (one per object)."""
    meta = path / "keras_metadata.pb"
    if not meta.is_file():
        return []
    configs = []
    for node in _message_fields(meta.read_bytes(), wanted=1):
        for blob in _message_fields(node):
            if blob[:1] == b"{":
                configs.append(json.loads(blob))
    return configs


def _message_fields(data: bytes, wanted: int | None = None) -> list[bytes]:
    """Length-delimited fields of one protobuf message (protobuf's wire format), optionally
    only field number `wanted`; enough to reach the JSON strings without a schema."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            size, i = _varint(data, i)
            if wanted is None or number == wanted:
                out.append(data[i:i + size])
            i += size
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated protobuf")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i
