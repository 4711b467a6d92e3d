"""`edgeconv edgetpu`: will this model map to a Coral EdgeTPU, and where does it split?"""
import shutil
from pathlib import Path

import click

from ..pipeline.steps.edgetpu import EdgeTpuConfig
from .options import emit_json, json_option
from .step_options import config_from, step_options


@click.command()
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(path_type=Path))
@step_options(EdgeTpuConfig)
@json_option
@click.pass_context
def edgetpu(ctx, model_path, as_json, **settings):
    """Predict the EdgeTPU compiler's mapping op by op, without the compiler: which ops map,
    where the graph splits and why, op versions, and on-chip parameter memory (8 MiB).

    \b
    Example:
      edgeconv edgetpu model_uint8.tflite --runtime 13
    """
    from ..pipeline.context import Artifact, Context
    from ..pipeline.steps import edgetpu as step
    from ..report import Report
    from ..tflite.reader import read_model_file

    config = config_from(EdgeTpuConfig, settings)
    read_model_file(model_path)  # a clear error for anything but a .tflite
    context = Context(Report(f"edgeconv edgetpu {model_path.name}"), tflite=Artifact.of_file("tflite", model_path))
    prediction = step.run(context, config)
    summary = prediction.summary()
    summary["compiler_available"] = shutil.which("edgetpu_compiler") is not None
    ok = context.report.ok
    if as_json:
        emit_json(summary)
    else:
        click.echo(prediction.log(model_path.name))
        if not summary["compiler_available"]:
            click.echo("\n(edgetpu_compiler is not installed here: this is edgeconv's prediction from the published "
                       "rules; confirm with the compiler on an x86-64 Linux machine)")
    ctx.exit(0 if ok else 1)
