"""Run a Recipe: its stages in order, every artifact and the report written atomically into
one output folder, with the resolved recipe and a manifest of sha256 sums."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..report.budgets import Budgets
from ..inputs.data import Dataset, checked_labels, class_count, demo_digits, load_dataset
from ..export.tflite import ConvertOptions
from ..output_safety import check_output
from ..outputs import atomic_dir
from .recipe import ConvertStage, DistillStage, EdgeTpuStage, ExplainStage, PackageStage, PruneStage, QatStage, Recipe, ValidateStage, to_yaml
from ..report import Report
from ..report.files import write_manifest, write_report
from .steps import convert_stage, layer_error_stage, validate_stage
from ..tflite.kind import kind_of
from ..verify.figures import measure_stage


@dataclass
class Run:
    recipe: Recipe
    folder: Path  # the temporary folder being filled
    report: Report
    model: object = None  # the model as the stages change it
    reference: object = None  # the float model as given: what the result is validated against
    calibration: Dataset | None = None
    validation: Dataset | None = None
    tflite: bytes = b""
    tflite_name: str = ""


def run_recipe(recipe: Recipe, out: Path, force: bool = False, progress=lambda message: None) -> Report:
    _check_inputs(recipe)
    check_output(out, force, recipe_inputs(recipe), folder=True)
    report = Report(f"edgeconv run {recipe.name}")
    with atomic_dir(out, force) as tmp:
        run = Run(recipe, tmp, report)
        progress(f"model: {recipe.model}")
        _load_inputs(run)
        for stage in recipe.stages:
            progress(f"stage: {type(stage).__name__.removesuffix('Stage').lower()}")
            STAGE_RUNNERS[type(stage)](run, stage)
        recipe.budgets.apply(report, kind_of(run.tflite))  # the converted model: every recipe has a convert stage
        _write_outputs(run)
    return report


def _check_inputs(recipe: Recipe) -> None:
    """The cheap checks, before any output folder exists or TensorFlow starts."""
    from ..inputs.data import check_data_path, unused_option
    from ..errors import InputError
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
    distill = recipe.stage(DistillStage)
    return {"input model": recipe.model, "input data": recipe.data, "validation data": recipe.validation_data,
            "student model": distill.student if distill else None}


def _load_inputs(run: Run) -> None:
    from ..inputs.models import load, output_shapes, save_model

    r = run.recipe
    if r.model == "demo":
        from ..demo import train_cnn

        train, held_back = demo_digits(r.seed)
        run.model = train_cnn(train, r.seed, epochs=30)
        save_model(run.model, run.folder / "model.keras")
        run.report.add("model", source="demo digits CNN (trained here)", parameters=int(run.model.count_params()))
    else:
        loaded = load(r.model)
        run.model = loaded.model
        run.report.add("model", source=r.model, format=loaded.format, keras_version=loaded.keras_version,
                       intake=loaded.intake)
    run.reference = run.model
    shape = tuple(run.model.inputs[0].shape) if run.model.inputs else None
    outputs = output_shapes(run.model)
    if r.data == "demo":
        run.calibration, run.validation = (checked_labels(d, class_count(outputs)) for d in demo_digits(r.seed))
    else:
        run.calibration = load_dataset(r.data, r.preprocess, shape, output_shapes=outputs)
        run.validation = (load_dataset(r.validation_data, r.preprocess, shape, output_shapes=outputs)
                          if r.validation_data else run.calibration)


def _distill(run: Run, stage: DistillStage) -> None:
    """The student replaces the model for the following stages; validation still compares
    with the model as given (the teacher)."""
    from ..inputs.models import load_model, save_model
    from ..optimize.distill import TEMPLATES, DistillOptions, distill, student_template
    from ..optimize.train import TrainOptions

    if stage.student in TEMPLATES:
        student = student_template(stage.student, tuple(run.model.inputs[0].shape[1:]),
                                   int(run.model.outputs[0].shape[-1]), stage.width)
    else:
        student = load_model(stage.student)
    train = TrainOptions(epochs=stage.epochs, batch_size=stage.batch_size, learning_rate=stage.learning_rate,
                         seed=run.recipe.seed, patience=0)
    result = distill(run.model, student, run.calibration, DistillOptions(stage.alpha, stage.temperature, train=train))
    run.model = result.student
    save_model(run.model, run.folder / "model_student.keras")
    run.report.add("distillation", **result.summary(), teacher_parameters=int(run.reference.count_params()),
                   student_parameters=int(run.model.count_params()))


def _prune(run: Run, stage: PruneStage) -> None:
    from ..inputs.models import save_model
    from ..optimize.prune import PruneOptions, prune
    from ..optimize.train import TrainOptions

    train = TrainOptions(epochs=stage.epochs, batch_size=stage.batch_size, learning_rate=stage.learning_rate,
                         seed=run.recipe.seed)
    structure = tuple(int(v) for v in stage.structure.split(":")) if stage.structure else None
    block = tuple(int(v) for v in stage.block.lower().split("x")) if stage.block else None
    options = PruneOptions(stage.sparsity, stage.schedule, structure, stage.layers, train=train, block=block)
    if stage.max_accuracy_drop is not None:
        from ..optimize.search import search_sparsity

        search = search_sparsity(run.model, run.calibration, run.validation, stage.max_accuracy_drop / 100, options)
        options = replace(options, sparsity=search.chosen)
        run.report.add("pruning", search_curve=search.curve, chosen_sparsity=search.chosen)
    result = prune(run.model, run.calibration, options)
    run.model = result.model
    save_model(run.model, run.folder / "model_pruned.keras")
    run.report.add("pruning", **result.summary())


def _qat(run: Run, stage: QatStage) -> None:
    from ..inputs.models import save_model
    from ..optimize.qat import QatOptions, qat
    from ..optimize.train import TrainOptions

    train = TrainOptions(epochs=stage.epochs, batch_size=stage.batch_size, learning_rate=stage.learning_rate,
                         seed=run.recipe.seed)
    result = qat(run.model, run.calibration, QatOptions(stage.preserve_sparsity, train))
    run.model = result.model
    if result.fallback:
        run.report.warn(result.fallback)
    else:
        save_model(run.model, run.folder / "model_qat.h5")
    run.report.add("qat", **result.summary())


def _convert(run: Run, stage: ConvertStage) -> None:
    options = ConvertOptions(mode=stage.mode, io_type=stage.io, per_channel=stage.per_channel,
                             samples=stage.samples, seed=run.recipe.seed)
    result = convert_stage(run.model, run.calibration, options, run.report, preprocess=run.recipe.preprocess)
    if stage.layer_errors and stage.mode in ("int8", "int16x8"):
        layer_error_stage(run.model, run.calibration, run.validation, options, run.report, stage.layer_errors)
    run.tflite, run.tflite_name = result.tflite, f"model_{stage.mode}.tflite"
    (run.folder / run.tflite_name).write_bytes(run.tflite)
    measure_stage(run.tflite, run.report)
    if "pruning" in run.report.sections:  # proof from the file itself that the zeros survived
        from ..tflite.weights import weight_sparsity

        run.report.add("pruning", tflite_weight_sparsity=weight_sparsity(run.tflite))


def _validate(run: Run, stage: ValidateStage) -> None:
    from ..targets.keras import KerasSession
    from ..targets.worker import ParallelSession

    candidate = ParallelSession(run.tflite, stage.workers, stage.kernels)
    try:
        validate_stage(KerasSession(run.reference), candidate, run.validation, run.report)
    finally:
        candidate.close()


def _explain(run: Run, stage: ExplainStage) -> None:
    from ..verify.explain import ExplainOptions, explain_stage
    from ..targets.host import HostSession
    from ..targets.keras import KerasSession

    options = ExplainOptions(stage.samples, stage.num_samples, stage.top_k, run.recipe.seed)
    explain_stage(KerasSession(run.reference), HostSession(run.tflite), run.validation, options, run.report,
                  figures=run.folder / "explain", min_agreement=stage.min_agreement)


def _edgetpu(run: Run, stage: EdgeTpuStage) -> None:
    from ..tflite.compat.edgetpu import predict
    from ..tflite.reader import read_model

    prediction = predict(read_model(run.tflite), stage.runtime)
    (run.folder / "edgetpu_prediction.log").write_text(prediction.log(run.tflite_name) + "\n")
    run.report.add("edgetpu", **{k: v for k, v in prediction.summary().items() if k != "ops"})
    split = prediction.split
    detail = (prediction.fatal or f"{prediction.mapped} of {len(prediction.ops)} ops map"
              + (f"; splits at op #{split.index} {split.op}: {split.status}" if split else ""))
    if stage.require_full_mapping or prediction.fatal:
        run.report.check("edgetpu mapping", prediction.fatal is None and split is None, detail)


def _package(run: Run, stage: PackageStage) -> None:
    from ..export.firmware import c_array
    from ..export.mobile import write_bundle

    if stage.firmware is not None:
        arena = run.report.model_figures("memory", kind_of(run.tflite))["arena_estimate_bytes"]
        src = c_array(run.tflite, run.tflite_name, arena, stage.firmware.xxd_names, stage.firmware.alignment)
        folder = run.folder / "firmware"
        folder.mkdir()
        (folder / src.header_name).write_text(src.header)
        (folder / src.source_name).write_text(src.source)
    if stage.mobile:
        write_bundle(run.folder / "mobile", run.tflite, run.tflite_name, run.report, stage.description)


STAGE_RUNNERS = {DistillStage: _distill, PruneStage: _prune, QatStage: _qat, ConvertStage: _convert, ValidateStage: _validate, ExplainStage: _explain, EdgeTpuStage: _edgetpu, PackageStage: _package}


def _write_outputs(run: Run) -> None:
    (run.folder / "recipe.yaml").write_text(to_yaml(run.recipe))
    write_report(run.folder, run.report)
    write_manifest(run.folder)


__all__ = ["run_recipe", "Budgets"]
