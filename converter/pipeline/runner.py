"""Run a Recipe: its steps in order on one Context, every artifact and the report written
atomically into one output folder, with the resolved recipe and a manifest of sha256 sums."""
from __future__ import annotations

from pathlib import Path

from ..inputs.data import checked_labels, class_count, demo_digits, load_dataset
from ..output_safety import check_output
from ..outputs import atomic_dir
from ..report import Report
from ..report.files import write_manifest, write_report
from ..tflite.kind import kind_of
from . import steps
from .context import Context
from .recipe import Recipe, to_yaml


def run_recipe(recipe: Recipe, out: Path, force: bool = False, progress=lambda message: None,
               trust_model: bool = False, code: tuple[str, ...] = (), title: str | None = None,
               stop=None) -> Report:
    """`stop(context, after)`, called once the inputs are loaded (after="inputs") and after each
    step (its name), may return why the run should end there (`tune` stops a trial that cannot
    fit its budgets); the report's `stopped` section says so, and the folder is written as usual."""
    _check_inputs(recipe)
    check_output(out, force, recipe_inputs(recipe), folder=True)
    report = Report(title or f"edgeconv run {recipe.name}")
    with atomic_dir(out, force) as tmp:
        context = Context(report, seed=recipe.seed, folder=tmp, preprocess=recipe.preprocess, progress=progress,
                          trust_model=trust_model or bool(code), code=code)
        progress(f"model: {recipe.model}")
        _load_inputs(context, recipe)
        reason, after = stop and stop(context, "inputs"), "inputs"
        for config in recipe.stages:
            if reason:
                break
            after = steps.name_of(config)
            progress(f"stage: {after}")
            steps.run(context, config)
            reason = stop and stop(context, after)
        if reason:
            report.add("stopped", after=after, reason=reason)
        if context.tflite is not None:  # the converted model: every recipe converts, unless stopped before
            recipe.budgets.apply(report, kind_of(context.tflite.read()))
        _write_outputs(tmp, recipe, report)
    return report


def _check_inputs(recipe: Recipe) -> None:
    """The cheap checks, before any output folder exists or TensorFlow starts."""
    from ..errors import InputError
    from ..inputs.data import check_data_path, unused_option
    from ..inputs.models import model_format

    if recipe.model != "demo":
        model_format(Path(recipe.model))
    p = recipe.preprocess
    for spec in (recipe.data, recipe.validation_data):
        if spec is not None:
            check_data_path(spec)
            problem = unused_option(spec, {"resize": p.resize, "grayscale": p.grayscale, "bgr": p.channel_order == "bgr"})
            if problem:
                raise InputError(f"recipe preprocess: {problem.replace('--', '', 1)}",
                                 hint="drop it from the recipe's preprocess section")


def recipe_inputs(recipe: Recipe) -> dict:
    """The files a run reads, which its output must not replace."""
    distill = recipe.stage("distill")
    return {"input model": recipe.model, "input data": recipe.data, "validation data": recipe.validation_data,
            "student model": distill.student if distill else None}


def _load_inputs(context: Context, recipe: Recipe) -> None:
    from ..inputs.models import input_names, load, output_shapes

    if recipe.model == "demo":
        _train_demo_model(context, recipe)
    else:
        loaded = load(recipe.model, trust_model=context.trust_model, code=context.code)
        context.model = loaded.model
        context.report.add("model", source=recipe.model, format=loaded.format, keras_version=loaded.keras_version,
                           intake=loaded.intake)
    context.reference = context.model
    shape = tuple(context.model.inputs[0].shape) if context.model.inputs else None
    outputs = output_shapes(context.model)
    if recipe.data == "demo":
        context.calibration, context.validation = (checked_labels(d, class_count(outputs))
                                                   for d in demo_digits(recipe.seed))
    else:
        names = input_names(context.model)
        context.calibration = load_dataset(recipe.data, recipe.preprocess, shape, output_shapes=outputs,
                                           input_names=names)
        context.validation = (load_dataset(recipe.validation_data, recipe.preprocess, shape, output_shapes=outputs,
                                           input_names=names) if recipe.validation_data else context.calibration)


def _train_demo_model(context: Context, recipe: Recipe) -> None:
    from ..demo import train_cnn

    train, _ = demo_digits(recipe.seed)
    context.progress(f"training a small CNN on {len(train)} digits ({recipe.demo_epochs} epochs, seed {recipe.seed})")
    context.model = train_cnn(train, recipe.seed, epochs=recipe.demo_epochs)
    context.save_model(context.model, "model.keras")
    context.report.add("model", source="demo digits CNN (trained here)", name=context.model.name,
                       parameters=int(context.model.count_params()), input_shape=list(context.model.input_shape[1:]),
                       train_samples=len(train), seed=recipe.seed)


def _write_outputs(folder: Path, recipe: Recipe, report: Report) -> None:
    (folder / "recipe.yaml").write_text(to_yaml(recipe))
    write_report(folder, report)
    write_manifest(folder)
