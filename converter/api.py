"""The Python API: the steps the CLI and recipes run, called from a script on one Context.

    import converter as ec
    run = ec.start("model.keras", data="calib.npz", validation_data="test.npz")
    ec.convert(run, mode="int8")
    ec.validate(run, target="host")
    ec.save_report(run, "out/")

Each step takes its settings as keywords (the same names as its recipe keys, checked the
same way) and returns its typed result; its figures and checks go into `run.report`. Nothing
is printed on stdout.
"""
from __future__ import annotations

from pathlib import Path

from .logs import stdout_kept_clean
from .pipeline import steps
from .pipeline.context import Context


def start(model, data: str | None = None, validation_data: str | None = None, preprocess=None, seed: int = 0,
          trust_model: bool = False, code: tuple[str, ...] = (), folder: str | Path | None = None) -> Context:
    """A Context on a model (a path in any format edgeconv reads, or a Keras model object) and
    its data (.npz, .npy, .csv, an image folder or 'demo'). `folder`: where steps write their
    artifacts (default: nowhere; save what you need)."""
    from .inputs.data import load_dataset
    from .inputs.models import input_names, input_shapes, load, output_shapes
    from .inputs.preprocess import Preprocess
    from .report import Report

    with stdout_kept_clean():
        model = load(model, trust_model=trust_model, code=code).model if isinstance(model, (str, Path)) else model
        spec = preprocess or Preprocess()
        shape, outputs = input_shapes(model)[0], output_shapes(model)
        names = input_names(model)
        calibration = load_dataset(data, spec, shape, output_shapes=outputs, input_names=names) if data else None
        validation = (load_dataset(validation_data, spec, shape, output_shapes=outputs, input_names=names)
                      if validation_data else None)
    return Context(Report("edgeconv (Python API)"), seed=seed, folder=Path(folder) if folder else None, model=model,
                   reference=model, calibration=calibration,
                   validation=validation if validation is not None else calibration, preprocess=spec,
                   trust_model=trust_model or bool(code), code=code)


def _step(name: str):
    config_class = steps.CONFIGS[name]

    def run(context: Context, **settings):
        config = config_class(**settings)
        with stdout_kept_clean():
            return steps.STEPS[name].run(context, config)
    run.__name__ = name
    run.__doc__ = (f"The `{name}` step: settings as keywords ({', '.join(config_class.__dataclass_fields__)}); "
                   f"see {steps.STEPS[name].__name__}.")
    return run


distill, prune, qat, convert, validate, explain, edgetpu, ethosu, package = (
    _step(n) for n in ("distill", "prune", "qat", "convert", "validate", "explain", "edgetpu", "ethosu", "package"))


def save_tflite(context: Context, path: str | Path, force: bool = False) -> Path:
    """The converted model, written atomically."""
    from .outputs import write_bytes

    return write_bytes(Path(path), context.tflite.read(), force)


def save_report(context: Context, folder: str | Path, force: bool = False) -> Path:
    """report.json, report.md and report.html, written atomically into `folder`."""
    from .outputs import atomic_dir
    from .report.files import write_report

    with atomic_dir(Path(folder), force) as tmp:
        write_report(tmp, context.report)
    return Path(folder)
