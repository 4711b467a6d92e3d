"""edgeconv: Keras models to fully-integer TFLite for edge devices, with proof.

Importing this package is cheap: the public names below load their modules (and TensorFlow,
where they need it) on first use.
"""
import importlib

__version__ = "0.1.0"

_API = ("start", "distill", "prune", "qat", "convert", "validate", "explain", "edgetpu", "ethosu", "package",
        "save_tflite", "save_report")  # the steps, as docs/python-api.md shows them
_PUBLIC = {
    **{name: "converter.api" for name in _API},
    "load_recipe": "converter.pipeline.recipe",
    "run_recipe": "converter.pipeline.runner",
    "load_dataset": "converter.inputs.data",
    "Context": "converter.pipeline.context",
    "Artifact": "converter.pipeline.context",
    "Report": "converter.report",
    "ConverterError": "converter.errors",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'converter' has no attribute '{name}'")
