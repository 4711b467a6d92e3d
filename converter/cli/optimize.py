"""`edgeconv prune` and `edgeconv qat`: TFMOT fine-tuning that saves reloadable models."""
from pathlib import Path

import click

from ..pipeline.steps.distill import DistillConfig
from ..pipeline.steps.prune import PruneConfig
from ..pipeline.steps.qat import QatConfig
from .options import data_option, emit_json, model_command_options, print_table, quiet
from .step_options import config_from, step_options


progress_option = click.option("--progress", is_flag=True, help="Show Keras progress bars.")


def _load(model_path, data_spec, trust_model, code):
    from ..inputs.data import check_data_path, load_dataset
    from ..inputs.models import input_names, input_shapes, load, model_format, output_shapes

    model_format(model_path)
    check_data_path(data_spec)
    loaded = load(model_path, trust_model=trust_model, code=code)
    return loaded.model, load_dataset(data_spec, input_shape=input_shapes(loaded.model)[0],
                                      output_shapes=output_shapes(loaded.model), input_names=input_names(loaded.model))


def _context(model, data, seed, progress, trust_model=False, code=(), validation=None):
    from ..pipeline.context import Context
    from ..report import Report

    return Context(Report("scratch"), seed=seed, model=model, reference=model, calibration=data,
                   validation=validation, verbose=progress, trust_model=trust_model or bool(code), code=code)


@click.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Pruned model (.keras, .h5).")
@step_options(PruneConfig)
@click.option("--validation-data", default=None, metavar="DATA", help="Labelled data for the search (default: DATA).")
@progress_option
@model_command_options
@click.pass_context
def prune(ctx, model_path, data_spec, out, validation_data, progress, seed, force, trust_model, code, as_json,
          **settings):
    """Prune MODEL's Conv/Dense weights to a target sparsity, fine-tuning on labelled DATA.

    Fails (exit 1) if any pruned layer misses its target. Pruning shrinks the model only
    when compressed: see the gzip size in `edgeconv bench`.

    \b
    Example:
      edgeconv prune model.keras --data train.npz --sparsity 0.75 --epochs 20 -o pruned.keras
      edgeconv prune model.keras --data train.npz --structure 2:4 --layer 'probs=0' -o pruned_2x4.keras
      edgeconv prune model.keras --data train.npz --validation-data val.npz --max-accuracy-drop 1 -o pruned.keras
      edgeconv prune model.keras --data train.npz --structured --target-macs 0.5 -o smaller.keras
    """
    from ..inputs.models import save_model
    from ..output_safety import check_model_output
    from ..outputs import save_atomically
    from ..pipeline.steps import prune as step

    check_model_output(out, force, {"input model": model_path, "input data": data_spec,
                                    "validation data": validation_data})
    config = config_from(PruneConfig, settings)
    with quiet(ctx):
        model, data = _load(model_path, data_spec, trust_model, code)
        validation = _load(model_path, validation_data, trust_model, code)[1] if validation_data else None
        context = _context(model, data, seed, progress, validation=validation)
        result = step.run(context, config)
        save_atomically(save_model, result.model, out, force)
    if config.structured:  # channels removed: a different summary
        from .channels_output import show_channels

        return show_channels(f"{model_path.name} -> {out}", context.report.sections["channels"], as_json)
    search = context.report.sections["pruning"].get("search")
    summary = result.summary()
    if search is not None:
        summary["search"] = search
    if as_json:
        emit_json(summary)
        return
    rows = [(f"search {p['sparsity']:.0%}", f"int8 accuracy {p['int8_accuracy'] * 100:.2f}% "
             f"(drop {p['accuracy_drop'] * 100:.2f}), gzip {p['gzip_bytes']:,} B {'✓' if p['within_budget'] else '✗'}")
            for p in (search["curve"] if search else [])]
    rows += _sparsity_rows(result.layer_sparsity, result.targets)
    print_table(f"Pruned {model_path.name} -> {out}", rows + _flattened_rows(summary),
                f"edgeconv qat {out} --data {data_spec} --preserve-sparsity, or convert it; "
                "`edgeconv bench` shows the gzip size pruning buys")


@click.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="QAT model: .h5 or a folder (TFMOT's QAT layers do not reload from .keras).")
@step_options(QatConfig)
@progress_option
@model_command_options
@click.pass_context
def qat(ctx, model_path, data_spec, out, progress, seed, force, trust_model, code, as_json, **settings):
    """Quantization-aware training: fine-tune MODEL with fake-quantization on DATA.

    Activation ranges start at the float model's calibrated min/max. With labels, QAT learns
    them; without (or with --targets teacher), it learns the float model's outputs.

    Layers TFMOT cannot wrap are listed and left to calibration at conversion; if TFMOT fails
    on the graph, the float model is written and the summary says so.

    \b
    Example:
      edgeconv qat pruned.keras --data train.npz --preserve-sparsity -o model_qat.h5
    """
    from ..inputs.models import check_qat_path, save_model
    from ..output_safety import check_model_output
    from ..outputs import save_atomically
    from ..pipeline.steps import qat as step

    check_model_output(out, force, {"input model": model_path, "input data": data_spec})
    check_qat_path(out)
    config = config_from(QatConfig, settings)
    with quiet(ctx):
        model, data = _load(model_path, data_spec, trust_model, code)
        result = step.run(_context(model, data, seed, progress), config)
        save_atomically(save_model, result.model, out, force)
    summary = result.summary()
    if as_json:
        emit_json(summary)
        return
    done = (f"QAT fine-tuned {model_path.name} -> {out} ({summary['annotation']} annotated)" if summary["applied"]
            else f"QAT not applied; {out} is the float model")
    print_table(done, _qat_rows(summary, result.lint),
                f"edgeconv convert {out} --data {data_spec} -o model_int8.tflite (the QAT ranges are used)")


def _sparsity_rows(reached: dict[str, float], targets: dict[str, float]) -> list[tuple[str, str]]:
    """A row per layer for a few layers, else one per target: a real CNN has dozens."""
    if len(reached) <= 4:
        return [(f"layer {k}", f"{v:.1%} zeros (target {targets[k]:.0%})") for k, v in reached.items()]
    by_target: dict[float, list[float]] = {}
    for k, v in reached.items():
        by_target.setdefault(targets[k], []).append(v)
    return [(f"{len(vs)} layers, target {t:.0%}", f"{min(vs):.1%} to {max(vs):.1%} zeros")
            for t, vs in by_target.items()]


def _flattened_rows(summary: dict) -> list[tuple[str, str]]:
    names = summary["flattened_nested_models"]
    return [("nested models", f"inlined so their layers are trained: {', '.join(names)}")] if names else []


def _qat_rows(summary: dict, lint) -> list[tuple[str, str]]:
    """Accuracy before and after, the training, then one row per action on the layers, naming
    layer types with their counts: a real CNN has dozens of layers of each type."""
    from ..report.units import percent, seconds

    if not summary["applied"]:
        return [("why", summary["fallback"]), *_flattened_rows(summary)]
    rows = []
    if summary["accuracy_before"] is not None:
        rows.append(("accuracy before / after", f"{percent(summary['accuracy_before'])} / "
                     f"{percent(summary['accuracy_after'])} on {summary['accuracy_on']}"))
    loss = summary["metrics"].get("val_loss", summary["metrics"].get("loss"))
    rows.append(("training", f"{summary['epochs']} epochs in {seconds(summary['seconds'])} on "
                 f"{'the labels' if summary['trained_on'] == 'labels' else 'the float model outputs'}"
                 + ("" if loss is None else f", final {'validation ' if 'val_loss' in summary['metrics'] else ''}"
                                            f"loss {loss:.4f}")))
    if summary["calibrated_ranges"]:
        rows.append(("activation ranges", f"{summary['calibrated_ranges']} started at the float model's min/max"))
    if summary["kept_epoch"] is not None:
        rows.append(("weights kept", "the calibrated start: no epoch lowered the validation loss"
                     if summary["kept_epoch"] == 0 else f"epoch {summary['kept_epoch']} (lowest validation loss)"))
    rows += _flattened_rows(summary)
    by_action: dict[str, dict[str, int]] = {}
    for item in lint:
        types = by_action.setdefault(item.action, {})
        types[item.type] = types.get(item.type, 0) + 1
    rows += [(", ".join(f"{kind} ×{n}" for kind, n in types.items()), action) for action, types in by_action.items()]
    return rows


@click.command()
@click.option("--teacher", "teacher_path", type=click.Path(path_type=Path), required=True, help="The large model.")
@step_options(DistillConfig)
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="The trained student (.keras).")
@progress_option
@model_command_options
@click.pass_context
def distill(ctx, teacher_path, data_spec, out, progress, seed, force, trust_model, code, as_json, **settings):
    """Train a small student to mimic a frozen teacher (labels optional).

    \b
    Example:
      edgeconv distill --teacher big.keras --student tiny_cnn --width 0.5 --data train.npz -o student.keras
    """
    from ..inputs.models import save_model
    from ..output_safety import check_model_output
    from ..outputs import save_atomically
    from ..pipeline.steps import distill as step

    config = config_from(DistillConfig, settings)
    check_model_output(out, force, {"teacher model": teacher_path, "student model": config.student,
                                    "input data": data_spec})
    student_spec = config.student
    with quiet(ctx):
        teacher, data = _load(teacher_path, data_spec, trust_model, code)
        result = step.run(_context(teacher, data, seed, progress, trust_model, code), config)
        save_atomically(save_model, result.student, out, force)
    summary = {**result.summary(), "student_parameters": int(result.student.count_params()),
               "teacher_parameters": int(teacher.count_params())}
    if as_json:
        emit_json(summary)
        return
    print_table(f"Distilled {teacher_path.name} into {student_spec} -> {out}", [
        ("parameters teacher / student", f"{summary['teacher_parameters']:,} / {summary['student_parameters']:,}"),
        ("outputs teacher / student", f"{result.teacher_outputs} / {result.student_outputs}"),
        ("final loss / accuracy", f"{result.metrics['loss']:.4f} / {result.metrics.get('accuracy', 0):.3f}")],
        f"edgeconv prune {out} or edgeconv convert {out} --data {data_spec}")
