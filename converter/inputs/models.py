"""Load and save Keras models (tf_keras / Keras 2) of the supported formats, safely."""
from __future__ import annotations

import contextlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import keras_env
from ..errors import ModelError
from .model_safety import TRUST_HINT, refuse_code, stored_configs
from .savedmodel import SignatureModel, load_signature_model
from .user_code import IMPORT_HINT, import_code, library_classes, missing_classes
from ..optimize import qat_configs

_HINT = "pass a Keras model: a .keras file, an .h5 file, or a SavedModel folder"
_KERAS_HINT = ("convert and validate work on it as it is; for this step, save the model with tf_keras "
               "(TF_USE_LEGACY_KERAS=1) as a Functional or Sequential model")


def model_format(path: Path) -> str:
    """Identify a model file by its content, not its name: 'keras', 'h5' or 'savedmodel'."""
    if not path.exists():
        raise ModelError(f"model {path} does not exist", hint=_HINT)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ModelError(f"{path} is a folder without saved_model.pb", hint=_HINT)
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        return "h5"
    if head.startswith(b"PK") and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            if "config.json" in z.namelist():
                return "keras"
    if head[4:8] == b"TFL3":
        raise ModelError(f"{path} is a TFLite model, not a Keras model",
                         hint="a .tflite is converted already: inspect, bench, validate, explain and package take it "
                              "as it is; to convert again, start from its Keras model or SavedModel")
    raise ModelError(f"{path} is not a Keras model (unrecognised content)", hint=_HINT)


def keras_major_version(path: Path) -> int:
    """2 for tf_keras files, 3 for files saved by Keras 3 (TensorFlow >= 2.16's default)."""
    with zipfile.ZipFile(path) as z:
        meta = json.loads(z.read("metadata.json")) if "metadata.json" in z.namelist() else {}
    return int(str(meta.get("keras_version", "2")).split(".")[0])


@dataclass
class Loaded:
    model: object
    format: str  # keras, h5, savedmodel
    keras_version: int | None  # None for a plain SavedModel
    intake: dict  # how the model was read: for Keras 3 files the rebuild and its proof

    @property
    def kind(self) -> str:
        if isinstance(self.model, SignatureModel):
            return "signature"
        return type(self.model).__name__ if is_graph_model(self.model) else "subclassed"


def load(path: str | Path, trust_model: bool = False, code: tuple[str, ...] = ()) -> Loaded:
    """Load any supported model file; Keras 3 files are rebuilt in tf_keras and checked.
    Without `trust_model`, a file whose config would run or import code is refused before
    anything is deserialised (Lambda layers, modules outside Keras), in every format.
    `code` names the user's modules or .py files that define custom classes: importing them
    trusts them, and the model that needs them."""
    path = Path(path)
    fmt = model_format(path)
    custom = import_code(code)
    if not (trust_model or code):
        refuse_code(path, fmt)
    trust_model = trust_model or bool(code)
    if fmt == "keras" and keras_major_version(path) >= 3:
        from .keras3 import load_keras3_file

        model, intake = load_keras3_file(path, trust_model, custom)
        return Loaded(model, fmt, 3, intake)
    if fmt == "savedmodel" and not (path / "keras_metadata.pb").is_file():
        model = load_signature_model(path)
        return Loaded(model, fmt, None, {"source": "signature", "signature": model.signature})
    return Loaded(_load_tf_keras(path, fmt, trust_model, custom), fmt, 2, {"source": "tf_keras"})


def load_model(path: str | Path, trust_model: bool = False, code: tuple[str, ...] = ()):
    """The model of `load`: a tf_keras model, whatever format and Keras version the file has."""
    return load(path, trust_model, code).model


def _load_tf_keras(path: Path, fmt: str, trust_model: bool, custom: dict):
    try:
        custom = {**library_classes(stored_configs(path, fmt)), **custom}
        with _tfmot_scope(path):
            return _load_keras2(path, fmt, trust_model, custom)
    except ValueError as e:
        if "Lambda" in str(e) or "safe_mode" in str(e):
            raise ModelError(f"{path} contains a Lambda layer, whose code would run when loaded",
                             hint=TRUST_HINT) from None
        raise load_failure(path, fmt, e, custom) from None
    except (OSError, TypeError, KeyError) as e:
        raise load_failure(path, fmt, e, custom) from None


def load_failure(path: Path, fmt: str, e: Exception, custom: dict) -> ModelError:
    """Name the classes the model needs and Keras lacks, if that is why loading failed (Keras
    itself says e.g. "'str' object is not callable")."""
    missing = missing_classes(stored_configs(path, fmt), custom)
    if missing:
        return ModelError(f"{path.name} needs {', '.join(missing)}, which Keras does not provide (their code "
                          "is not imported)", hint=IMPORT_HINT)
    return ModelError(f"cannot load {path}: {_first_line(e)}", hint=_HINT)


def _load_keras2(path: Path, fmt: str, trust_model: bool, custom: dict):
    keras = keras_env.keras()
    if fmt != "savedmodel":
        return keras.models.load_model(path, custom_objects=custom, compile=False, safe_mode=not trust_model)
    return keras.models.load_model(path, custom_objects=custom, compile=False)


def require_keras(model, step: str) -> None:
    """Training steps need Keras layers; a model known only by its signature has none."""
    if isinstance(model, SignatureModel):
        raise ModelError(f"{step} needs a Keras model; {model.name} is not one here: {model.why_not_keras}",
                         hint=_KERAS_HINT)


def _tfmot_scope(path: Path):
    """QAT and pruning wrappers are TFMOT custom objects: load them in TFMOT's scopes (the
    known reload failure of QAT models) only when the file holds them."""
    if not _mentions(path, (b"QuantizeWrapper", b"QuantizeLayer", b"PruneLowMagnitude")):
        return contextlib.nullcontext()
    tfmot = keras_env.tfmot()
    stack = contextlib.ExitStack()
    stack.enter_context(tfmot.quantization.keras.quantize_scope(qat_configs.custom_objects()))
    stack.enter_context(tfmot.sparsity.keras.prune_scope())
    return stack


def _mentions(path: Path, words: tuple[bytes, ...]) -> bool:
    if path.is_dir():
        blobs = [p.read_bytes() for p in (path / "keras_metadata.pb", path / "saved_model.pb") if p.is_file()]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            blobs = [z.read("config.json")] if "config.json" in z.namelist() else []
    else:
        blobs = [path.read_bytes()]
    return any(w in b for b in blobs for w in words)


def save_model(model, path: Path) -> None:
    """Save so that `load_model` reads it back. QAT models do not survive the .keras format
    (TFMOT's QuantizeLayer variables come back misnamed), so they need .h5 or a folder."""
    path = Path(path)
    if has_qat_layers(model):
        check_qat_path(path)
    model.save(path, save_format="tf" if path.suffix == "" else None)


def check_qat_path(path: Path) -> None:
    if path.suffix == ".keras":
        raise ModelError(f"a QAT model saved as {path.name} would not load again (a TFMOT limitation of .keras)",
                         hint="save it as .h5, or as a folder (SavedModel): e.g. -o model_qat.h5")


def has_qat_layers(model) -> bool:
    return any(type(layer).__name__.startswith("Quantize") for layer in getattr(model, "layers", []))


def input_names(model) -> list[str]:
    """The Keras input names, in the model's input order (none for a model never called on
    Keras inputs); the converted model's signature takes them as its input names."""
    return [t.name.split(":")[0] for t in model.inputs] if model.inputs else []


INPUT_SCALING_LAYERS = ("Rescaling", "Normalization")


def input_scaling_layers(model) -> list:
    """The Rescaling/Normalization layers a model (or the model nested first in it) starts with,
    as keras.applications' EfficientNet, MobileNetV3 and ConvNeXt do: such a model takes raw
    pixels by design."""
    layers = [layer for layer in getattr(model, "layers", []) if type(layer).__name__ != "InputLayer"]
    if layers and hasattr(layers[0], "layers"):
        return input_scaling_layers(layers[0])
    leading = []
    for layer in layers:
        if type(layer).__name__ not in INPUT_SCALING_LAYERS:
            break
        leading.append(layer)
    return leading


def scales_its_input(model) -> bool:
    return bool(input_scaling_layers(model))


def output_names(model) -> list[str]:
    """The Keras output names. A QAT model's are its float layers' (TFMOT renames each layer it
    wraps quant_<name>), so the int8 model's outputs match the float model's by name."""
    wrapped = {layer.name: layer.layer.name for layer in getattr(model, "layers", [])
               if type(layer).__name__.startswith("Quantize") and hasattr(layer, "layer")}
    keras_names = list(getattr(model, "output_names", None) or [])
    names = [wrapped.get(name, name) for name in keras_names]
    return names if len(set(names)) == len(names) else keras_names  # never two outputs under one name


def input_shapes(model) -> list[tuple]:
    """Input shapes including the batch dimension (None when free). Subclassed models have no
    `inputs`; their shapes come from the spec Keras recorded at their first call."""
    if model.inputs:
        return [tuple(t.shape) for t in model.inputs]
    spec = model.save_spec(dynamic_batch=True) if hasattr(model, "save_spec") else None
    if spec:
        return [tuple(s.shape) for s in keras_env.tf().nest.flatten(spec[0])]
    if recorded := _built_shapes(model):
        return recorded
    raise ModelError(f"the subclassed model '{model.name}' has never been called, so its input shape is unknown",
                     hint="call the model once on a batch before saving it, or build it as a Functional model")


def _built_shapes(model) -> list[tuple] | None:
    """A subclassed model loaded from .keras is built from the input shape its file records
    (build_config), not called, so it has no save spec: that shape, with a free batch (the
    batch of the call that built it is no property of the model)."""
    config = model.get_build_config() if getattr(model, "built", False) and hasattr(model, "get_build_config") else None
    shape = (config or {}).get("input_shape")
    if not shape:
        return None
    one = all(d is None or isinstance(d, int) for d in shape)
    shapes = [shape] if one else list(shape.values() if isinstance(shape, dict) else shape)
    return [(None, *tuple(s)[1:]) for s in shapes]


def output_shapes(model) -> list[tuple]:
    """Output shapes including the batch dimension; [] for a subclassed model never called."""
    return [tuple(t.shape) for t in model.outputs or []]


def is_graph_model(model) -> bool:
    """Sequential and Functional models have a layer graph that can be cloned and wrapped."""
    keras = keras_env.keras()
    return isinstance(model, keras.Sequential) or getattr(model, "_is_graph_network", False)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
