"""`edgeconv edgetpu`: will this model map to a Coral EdgeTPU, and where does it split?"""
import shutil
from pathlib import Path

import click

from .options import emit_json, json_option


@click.command()
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(path_type=Path))
@click.option("--runtime", type=click.Choice(["13", "14"]), default="14", show_default=True,
              help="EdgeTPU runtime version of the device (compiler 16 targets 14; older boards need 13).")
@click.option("--require-full-mapping", is_flag=True, help="Exit 1 unless every op maps to the EdgeTPU.")
@json_option
@click.pass_context
def edgetpu(ctx, model_path, runtime, require_full_mapping, as_json):
    """Predict the EdgeTPU compiler's mapping op by op, without the compiler: which ops map,
    where the graph splits and why, op versions, and on-chip parameter memory (8 MiB).

    \b
    Example:
      edgeconv edgetpu model_uint8.tflite --runtime 13
    """
    from ..tflite.compat.edgetpu import predict
    from ..tflite.reader import read_model_file

    prediction = predict(read_model_file(model_path), int(runtime))
    summary = prediction.summary()
    summary["compiler_available"] = shutil.which("edgetpu_compiler") is not None
    ok = prediction.fatal is None and (not require_full_mapping or prediction.split is None)
    if as_json:
        emit_json(summary)
    else:
        click.echo(prediction.log(model_path.name))
        if not summary["compiler_available"]:
            click.echo("\n(edgetpu_compiler is not installed here: this is edgeconv's prediction from the published "
                       "rules; confirm with the compiler on an x86-64 Linux machine)")
    ctx.exit(0 if ok else 1)
