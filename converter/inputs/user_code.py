"""The user's own Python code, for models that need it (custom layers, subclassed blocks,
registered Keras 3 objects). It is imported only when the user names it (--import), which
trusts it: importing runs it.

Keras finds such classes in its registry (`register_keras_serializable` runs on import), or in
the `custom_objects` it is given: the classes a module defines, plus the entries of its
`get_custom_objects()` function or `custom_objects` dict, by name.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from .. import keras_env  # noqa: F401  (sets TF_USE_LEGACY_KERAS before the user's code imports TensorFlow)
from ..errors import ModelError

# layers that keras.applications define without registering them (ConvNeXt, InceptionResNetV2):
# class name -> (module, the keys of its config: an .h5 names no module, so a user's own class of
# the same name but another config is not taken for it)
LIBRARY_LAYERS = {"LayerScale": ("tf_keras.src.applications.convnext", {"init_values", "projection_dim"}),
                  "StochasticDepth": ("tf_keras.src.applications.convnext", {"drop_path_rate"}),
                  "CustomScaleLayer": ("tf_keras.src.applications.inception_resnet_v2", {"scale"})}
IMPORT_HINT = "import the code that defines them with --import my_layers.py (or a module name); that trusts it"


def import_code(specs: tuple[str, ...] | list[str]) -> dict:
    """Import every module name or .py file in `specs`; the custom objects they offer, by name."""
    objects: dict = {}
    for spec in specs:
        objects.update(_custom_objects(_import(spec)))
    return objects


@functools.cache
def _import(spec: str):
    """Once per spec: importing twice would register the same Keras classes twice."""
    path = Path(spec)
    try:
        if path.suffix == ".py":
            return _import_file(path)
        _on_path(Path.cwd())  # as `python -m` does
        return importlib.import_module(spec)
    except (ModelError, KeyboardInterrupt):
        raise
    except BaseException as e:  # the user's code may raise anything, SystemExit included
        detail = (str(e).strip().splitlines() or [""])[0][:300]
        raise ModelError(f"--import {spec} failed: {type(e).__name__}: {detail}",
                         hint="check that the module imports on its own: python -c 'import <module>'") from None


def _import_file(path: Path):
    if not path.is_file():
        raise ModelError(f"--import {path}: no such file", hint="give a .py file or an importable module name")
    name = path.stem
    _on_path(path.resolve().parent)  # the file's own sibling imports work, as with `python file.py`
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Keras 3 configs name the module; it must resolve to this file
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _on_path(folder: Path) -> None:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def library_classes(configs: list) -> dict:
    """The layer classes of LIBRARY_LAYERS that stored configs name, by name: tf_keras' loader
    cannot find them on its own, and importing tf_keras' own modules runs no code from the model
    file (the module comes from the map, never from the file)."""
    found = {}
    for entry in _layer_entries(configs):
        name = entry["class_name"]
        module, keys = LIBRARY_LAYERS.get(name, (None, set()))
        if module and entry.get("module") in (None, module) and keys <= set(entry["config"]):
            try:
                found[name] = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):  # a tf_keras without it: Keras' own error says what is missing
                pass
    return found


def missing_classes(configs: list, custom_objects: dict) -> list[str]:
    """Layer classes that stored configs name and that neither Keras nor the imported code
    provides: the reason a model needs --import."""
    missing: list[str] = []
    for entry in _layer_entries(configs):
        name = entry.get("registered_name") or entry["class_name"]
        if not _resolves(entry, name, custom_objects) and name not in missing:
            missing.append(name)
    return missing


def _layer_entries(config):
    if isinstance(config, list):
        for item in config:
            yield from _layer_entries(item)
    elif isinstance(config, dict):
        if isinstance(config.get("class_name"), str) and isinstance(config.get("config"), dict) \
                and "name" in config["config"]:
            yield config
        for value in config.values():
            yield from _layer_entries(value)


def _resolves(entry: dict, name: str, custom_objects: dict) -> bool:
    if str(entry.get("module") or "").split(".")[0] in ("keras", "tf_keras"):
        return True  # Keras 3 names its own classes' module
    if name in custom_objects or entry["class_name"] in custom_objects or entry["class_name"] in _keras_names():
        return True
    keras3 = sys.modules.get("keras")
    return (keras_env.keras().utils.get_registered_object(name) is not None
            or (keras3 is not None and keras3.saving.get_registered_object(name) is not None))


@functools.cache
def _keras_names() -> frozenset:
    keras = keras_env.keras()
    spaces = (keras.layers, keras.models, keras.initializers, keras.regularizers, keras.constraints,
              keras.mixed_precision, keras.activations)
    return frozenset({"Functional", "Sequential", "Model"}.union(*(dir(s) for s in spaces)))


def _custom_objects(module) -> dict:
    """Keras-serialisable classes defined in the module, then what it lists itself."""
    objects = {name: obj for name, obj in vars(module).items()
               if inspect.isclass(obj) and obj.__module__ == module.__name__
               and hasattr(obj, "get_config") and hasattr(obj, "from_config")}
    listed = getattr(module, "get_custom_objects", None)
    listed = listed() if callable(listed) else getattr(module, "custom_objects", None)
    if isinstance(listed, dict):
        objects.update(listed)
    return objects
