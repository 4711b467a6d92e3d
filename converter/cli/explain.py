"""`edgeconv explain`: LIME explanations of a reference and a candidate, and their drift."""
from pathlib import Path

import click

from ..pipeline.steps.explain import ExplainConfig
from .options import data_option, echo_warnings, emit_json, model_command_options, print_table, quiet
from .step_options import config_from, step_options


@click.command()
@click.argument("reference", type=click.Path(path_type=Path))
@click.argument("candidate", type=click.Path(path_type=Path))
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Folder for figures and reports.")
@step_options(ExplainConfig)
@model_command_options
@click.pass_context
def explain(ctx, reference, candidate, data_spec, out, seed, force, trust_model, code, as_json, **settings):
    """Explain REFERENCE (Keras or float .tflite) and CANDIDATE (.tflite) on the same samples
    with LIME, and measure how much the explanations drift.

    \b
    Example:
      edgeconv explain model.keras model_int8.tflite --data test.npz --samples 10 -o explain/
    """
    from ..output_safety import check_output
    from ..outputs import atomic_dir
    from ..pipeline.context import Context
    from ..pipeline.steps import explain as step
    from ..report import Report
    from ..report.files import write_report
    from .validate import candidate_data, open_reference

    check_output(out, force, {"reference model": reference, "candidate model": candidate, "input data": data_spec},
                 folder=True)
    config = config_from(ExplainConfig, settings)
    tflite, _, data, names = candidate_data(candidate, data_spec, {})  # preprocessing as stored by convert
    report = Report(f"edgeconv explain {reference.name} vs {candidate.name}")
    with quiet(ctx):
        context = Context(report, seed=seed, tflite=tflite, validation=data,
                          reference=open_reference(reference, trust_model, data, code, names))
    with quiet(ctx), atomic_dir(out, force) as tmp:
        result = step.run(context, config, figures=tmp)
        write_report(tmp, report)
    echo_warnings(report)
    if as_json:
        emit_json(report.to_dict())
    else:
        summary = result.summary()
        print_table(f"Explained {summary['samples']} samples with the float and the converted model -> {out}", [
            (f"top-{config.top_k} overlap mean / min", f"{summary['mean_top_k_overlap']:.2f} / {summary['min_top_k_overlap']:.2f}"),
            ("rank correlation mean", f"{summary['mean_rank_correlation']:.3f}"),
            ("explanations / s", f"{summary['explanations_per_s']:.1f} ({summary['predictions_per_s']:.0f} predictions/s)"),
            ("checks", report.checks_summary())],
            f"{out / 'report.html'} shows each sample's explanation, float beside converted")
    ctx.exit(0 if report.ok else 1)
