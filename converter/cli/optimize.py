"""`edgeconv prune` and `edgeconv qat`: TFMOT fine-tuning that saves reloadable models."""
from pathlib import Path

import click

from .options import data_option, emit_json, force_option, json_option, print_table, quiet, seed_option, trust_option, import_option


def _structure(ctx, param, value):
    if value is None:
        return None
    try:
        m, n = (int(v) for v in value.split(":"))
        assert 0 < m < n
        return m, n
    except (ValueError, AssertionError):
        raise click.BadParameter(f"'{value}' is not M:N with 0 < M < N, e.g. 2:4") from None


def _block(ctx, param, value):
    if value is None:
        return None
    try:
        r, c = (int(v) for v in value.lower().split("x"))
        assert r > 0 and c > 0
        return r, c
    except (ValueError, AssertionError):
        raise click.BadParameter(f"'{value}' is not RxC with positive R and C, e.g. 4x1") from None


def _overrides(ctx, param, values):
    out = {}
    for item in values:
        pattern, _, value = item.rpartition("=")
        try:
            out[pattern] = float(value)
            assert pattern and 0 <= out[pattern] < 1
        except (ValueError, AssertionError):
            raise click.BadParameter(f"'{item}' is not REGEX=SPARSITY with 0 <= sparsity < 1") from None
    return out


_training = [
    click.option("--epochs", type=click.IntRange(1), default=None, help="Fine-tuning epochs."),
    click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True),
    click.option("--learning-rate", type=click.FloatRange(0, min_open=True), default=None),
    click.option("--progress", is_flag=True, help="Show Keras progress bars."),
]


def training_options(f):
    for option in reversed(_training):
        f = option(f)
    return f


def _train_options(defaults, epochs, batch_size, learning_rate, seed, progress):
    from dataclasses import replace

    return replace(defaults, epochs=epochs or defaults.epochs, batch_size=batch_size,
                   learning_rate=learning_rate or defaults.learning_rate, seed=seed, verbose=1 if progress else 0)


def _load(model_path, data_spec, trust_model, code):
    from ..inputs.data import check_data_path, load_dataset
    from ..inputs.models import input_shapes, load, model_format, output_shapes

    model_format(model_path)
    check_data_path(data_spec)
    loaded = load(model_path, trust_model=trust_model, code=code)
    return loaded.model, load_dataset(data_spec, input_shape=input_shapes(loaded.model)[0],
                                      output_shapes=output_shapes(loaded.model))


@click.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Pruned model (.keras, .h5).")
@click.option("--sparsity", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.75, show_default=True)
@click.option("--schedule", type=click.Choice(["polynomial", "constant"]), default="polynomial", show_default=True)
@click.option("--structure", callback=_structure, metavar="M:N", help="Structured sparsity, e.g. 2:4.")
@click.option("--block", callback=_block, metavar="RxC",
              help="Prune Dense kernels in blocks of R inputs x C outputs, e.g. 4x1 (compresses better).")
@click.option("--layer", "overrides", multiple=True, callback=_overrides, metavar="REGEX=SPARSITY",
              help="Per-layer sparsity by layer-name regex (0 keeps a layer dense); wins over --sparsity.")
@click.option("--max-accuracy-drop", type=click.FloatRange(0, 100), default=None,
              help="Search the highest sparsity whose int8 model loses at most this many points (replaces --sparsity).")
@click.option("--validation-data", default=None, metavar="DATA", help="Labelled data for the search (default: DATA).")
@training_options
@seed_option
@force_option
@trust_option
@import_option
@json_option
@click.pass_context
def prune(ctx, model_path, data_spec, out, sparsity, schedule, structure, block, overrides, max_accuracy_drop,
          validation_data, epochs, batch_size, learning_rate, progress, seed, force, trust_model, code, as_json):
    """Prune MODEL's Conv/Dense weights to a target sparsity, fine-tuning on labelled DATA.

    Fails (exit 1) if any pruned layer misses its target. Pruning shrinks the model only
    when compressed: see the gzip size in `edgeconv bench`.

    \b
    Example:
      edgeconv prune model.keras --data train.npz --sparsity 0.75 --epochs 20 -o pruned.keras
      edgeconv prune model.keras --data train.npz --structure 2:4 --layer 'probs=0' -o pruned_2x4.keras
      edgeconv prune model.keras --data train.npz --validation-data val.npz --max-accuracy-drop 1 -o pruned.keras
    """
    from ..inputs.models import save_model
    from dataclasses import replace

    from ..optimize.prune import PruneOptions, prune as run_prune
    from ..optimize.search import search_sparsity
    from ..optimize.train import TrainOptions
    from ..output_safety import check_model_output
    from ..outputs import save_atomically

    check_model_output(out, force, {"input model": model_path, "input data": data_spec,
                                    "validation data": validation_data})
    train = _train_options(TrainOptions(epochs=10), epochs, batch_size, learning_rate, seed, progress)
    options = PruneOptions(sparsity, schedule, structure, overrides, train=train, block=block)
    search = None
    with quiet(ctx):
        model, data = _load(model_path, data_spec, trust_model, code)
        if max_accuracy_drop is not None:
            validation = _load(model_path, validation_data, trust_model, code)[1] if validation_data else data
            search = search_sparsity(model, data, validation, max_accuracy_drop / 100, options)
            options = replace(options, sparsity=search.chosen)
        result = run_prune(model, data, options)
        save_atomically(save_model, result.model, out, force)
    summary = result.summary()
    if search is not None:
        summary["search"] = {"chosen": search.chosen, "float_accuracy": search.float_accuracy, "curve": search.curve}
    if as_json:
        emit_json(summary)
        return
    rows = [(f"search {p['sparsity']:.0%}", f"int8 accuracy {p['int8_accuracy'] * 100:.2f}% "
             f"(drop {p['accuracy_drop'] * 100:.2f}), gzip {p['gzip_bytes']:,} B {'✓' if p['within_budget'] else '✗'}")
            for p in (search.curve if search else [])]
    rows += [(f"layer {k}", f"{v:.1%} zeros (target {result.targets[k]:.0%})") for k, v in result.layer_sparsity.items()]
    print_table(f"{model_path.name} -> {out}", rows + _flattened_rows(summary))


@click.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="QAT model: .h5 or a folder (TFMOT's QAT layers do not reload from .keras).")
@click.option("--preserve-sparsity", is_flag=True, help="Pruning-preserving QAT: pruned weights stay zero.")
@training_options
@seed_option
@force_option
@trust_option
@import_option
@json_option
@click.pass_context
def qat(ctx, model_path, data_spec, out, preserve_sparsity, epochs, batch_size, learning_rate, progress, seed,
        force, trust_model, code, as_json):
    """Quantization-aware training: fine-tune MODEL with fake-quantization on labelled DATA.

    Layers TFMOT cannot wrap are listed and left to calibration at conversion; if TFMOT fails
    on the graph, the float model is written and the summary says so.

    \b
    Example:
      edgeconv qat pruned.keras --data train.npz --preserve-sparsity -o model_qat.h5
    """
    from ..inputs.models import check_qat_path, save_model
    from ..optimize.qat import QatOptions, qat as run_qat
    from ..output_safety import check_model_output
    from ..outputs import save_atomically

    check_model_output(out, force, {"input model": model_path, "input data": data_spec})
    check_qat_path(out)
    train = _train_options(QatOptions().train, epochs, batch_size, learning_rate, seed, progress)
    with quiet(ctx):
        model, data = _load(model_path, data_spec, trust_model, code)
        result = run_qat(model, data, QatOptions(preserve_sparsity, train))
        save_atomically(save_model, result.model, out, force)
    summary = result.summary()
    if as_json:
        emit_json(summary)
        return
    print_table(f"{model_path.name} -> {out}", _qat_rows(summary))


def _flattened_rows(summary: dict) -> list[tuple[str, str]]:
    names = summary["flattened_nested_models"]
    return [("nested models", f"inlined so their layers are trained: {', '.join(names)}")] if names else []


def _qat_rows(summary: dict) -> list[tuple[str, str]]:
    """One row per layer type, not per layer: a real CNN has dozens of each."""
    applied = f"applied ({summary['annotation']} annotated)" if summary["applied"] else summary["fallback"]
    rows = [("QAT", applied), *_flattened_rows(summary)]
    rows += [(f"{kind} ×{t['layers']}", t["action"]) for kind, t in summary["transformed"].items()]
    left: dict[str, list[str]] = {}
    for item in summary["not_wrapped"]:
        left.setdefault(item["type"], []).append(item["layer"])
    rows += [(f"{kind} ×{len(names)}", "left float, quantized by calibration: " + ", ".join(names[:3])
              + (", ..." if len(names) > 3 else "")) for kind, names in left.items()]
    return rows


@click.command()
@click.option("--teacher", "teacher_path", type=click.Path(path_type=Path), required=True, help="The large model.")
@click.option("--student", "student_spec", required=True,
              help="A Keras model file, or a template: tiny_cnn (images) or tiny_mlp.")
@click.option("--width", type=click.FloatRange(0.05, 16), default=1.0, show_default=True,
              help="Width multiplier of a template student.")
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="The trained student (.keras).")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Weight of the hard-label loss (ignored without labels).")
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=4.0, show_default=True)
@click.option("--hint", metavar="TEACHER_LAYER:STUDENT_LAYER", help="Also match an intermediate feature.")
@training_options
@seed_option
@force_option
@trust_option
@import_option
@json_option
@click.pass_context
def distill(ctx, teacher_path, student_spec, width, data_spec, out, alpha, temperature, hint, epochs, batch_size,
            learning_rate, progress, seed, force, trust_model, code, as_json):
    """Train a small student to mimic a frozen teacher (labels optional).

    \b
    Example:
      edgeconv distill --teacher big.keras --student tiny_cnn --width 0.5 --data train.npz -o student.keras
    """
    from ..errors import ModelError
    from ..inputs.models import load_model, save_model
    from ..optimize.distill import TEMPLATES, DistillOptions, distill as run_distill, student_template
    from ..output_safety import check_model_output
    from ..outputs import save_atomically

    check_model_output(out, force, {"teacher model": teacher_path, "student model": student_spec,
                                    "input data": data_spec})
    hint_pair = tuple(hint.split(":", 1)) if hint else None
    if hint and len(hint_pair) != 2:
        raise click.BadParameter(f"'{hint}' is not TEACHER_LAYER:STUDENT_LAYER", param_hint="--hint")
    train = _train_options(DistillOptions().train, epochs, batch_size, learning_rate, seed, progress)
    with quiet(ctx):
        teacher, data = _load(teacher_path, data_spec, trust_model, code)
        if student_spec in TEMPLATES:
            student = student_template(student_spec, tuple(teacher.inputs[0].shape[1:]),
                                       int(teacher.outputs[0].shape[-1]), width)
        elif Path(student_spec).exists():
            student = load_model(Path(student_spec), trust_model=trust_model, code=code)
        else:
            raise ModelError(f"student '{student_spec}' is neither a model file nor a template",
                             hint="templates: tiny_cnn (images), tiny_mlp; or give a Keras model path")
        result = run_distill(teacher, student, data, DistillOptions(alpha, temperature, hint_pair, train=train))
        save_atomically(save_model, result.student, out, force)
    summary = {**result.summary(), "student_parameters": int(result.student.count_params()),
               "teacher_parameters": int(teacher.count_params())}
    if as_json:
        emit_json(summary)
        return
    print_table(f"{student_spec} <- {teacher_path.name} -> {out}", [
        ("parameters teacher / student", f"{summary['teacher_parameters']:,} / {summary['student_parameters']:,}"),
        ("outputs teacher / student", f"{result.teacher_outputs} / {result.student_outputs}"),
        ("final loss / accuracy", f"{result.metrics['loss']:.4f} / {result.metrics.get('accuracy', 0):.3f}")])
