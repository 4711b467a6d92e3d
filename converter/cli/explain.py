"""`edgeconv explain`: LIME explanations of a reference and a candidate, and their drift."""
from pathlib import Path

import click

from .options import data_option, echo_warnings, emit_json, force_option, json_option, print_table, quiet, trust_option, import_option


@click.command()
@click.argument("reference", type=click.Path(path_type=Path))
@click.argument("candidate", type=click.Path(path_type=Path))
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Folder for figures and reports.")
@click.option("--samples", type=click.IntRange(1), default=10, show_default=True, help="Samples to explain.")
@click.option("--num-samples", type=click.IntRange(10), default=1000, show_default=True,
              help="LIME perturbations per sample.")
@click.option("--top-k", type=click.IntRange(1), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--min-explanation-agreement", type=click.FloatRange(0, 1), default=None,
              help="Budget: mean top-k overlap (0..1); below it exits 1.")
@force_option
@trust_option
@import_option
@json_option
@click.pass_context
def explain(ctx, reference, candidate, data_spec, out, samples, num_samples, top_k, seed, min_explanation_agreement,
            force, trust_model, code, as_json):
    """Explain REFERENCE (Keras or float .tflite) and CANDIDATE (.tflite) on the same samples
    with LIME, and measure how much the explanations drift.

    \b
    Example:
      edgeconv explain model.keras model_int8.tflite --data test.npz --samples 10 -o explain/
    """
    from ..inputs.data import check_fits, load_dataset
    from ..verify.explain import ExplainOptions, explain_stage
    from ..output_safety import check_output
    from ..outputs import atomic_dir
    from ..report import Report
    from ..report.files import write_report
    from ..targets.host import HostRuntime
    from ..tflite.metadata import edgeconv_info
    from ..tflite.reader import read_model_file
    from .validate import open_reference
    from .options import preprocess_from

    check_output(out, force, {"reference model": reference, "candidate model": candidate, "input data": data_spec},
                 folder=True)
    info = read_model_file(candidate)
    model_bytes = candidate.read_bytes()
    spec, _ = preprocess_from({}, data_spec, edgeconv_info(model_bytes).get("preprocess"))  # as stored by convert
    data = load_dataset(data_spec, spec, info.main.tensor(info.main.inputs[0]).shape, output_shapes=info.output_shapes())
    check_fits(data, info.input_shapes(), str(candidate))
    options = ExplainOptions(samples, num_samples, top_k, seed)
    report = Report(f"edgeconv explain {reference.name} vs {candidate.name}")
    with quiet(ctx):
        ref_session = open_reference(reference, trust_model, data, code)
    with quiet(ctx), atomic_dir(out, force) as tmp:
        result = explain_stage(ref_session, HostRuntime().open(model_bytes), data,
                               options, report, figures=tmp, min_agreement=min_explanation_agreement)
        write_report(tmp, report)
    echo_warnings(report)
    if as_json:
        emit_json(report.to_dict())
    else:
        summary = result.summary()
        print_table(f"explanation drift on {summary['samples']} samples -> {out}", [
            (f"top-{top_k} overlap mean / min", f"{summary['mean_top_k_overlap']:.2f} / {summary['min_top_k_overlap']:.2f}"),
            ("rank correlation mean", f"{summary['mean_rank_correlation']:.3f}"),
            ("explanations / s", f"{summary['explanations_per_s']:.1f} ({summary['predictions_per_s']:.0f} predictions/s)"),
            ("checks", report.checks_summary())])
    ctx.exit(0 if report.ok else 1)
