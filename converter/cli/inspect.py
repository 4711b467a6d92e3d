"""`edgeconv inspect`: what is inside a .tflite file, without TensorFlow."""
from pathlib import Path

import click

from .options import emit_json, json_option


@click.command()
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(path_type=Path))
@json_option
def inspect(model_path, as_json):
    """Ops, inputs, outputs, quantization and the tensor-arena estimate of a .tflite model.

    \b
    Example:
      edgeconv inspect model_int8.tflite --json
    """
    from ..tflite.summary import summarize

    summary = summarize(model_path)
    if as_json:
        emit_json(summary)
        return
    click.echo(f"{model_path}: {summary['size_bytes']:,} bytes, {len(summary['subgraphs'])} subgraph(s)")
    for sg in summary["subgraphs"]:
        click.echo(f"subgraph {sg['index']} {sg['name']}: {sg['operator_count']} ops, "
                   f"arena estimate {sg['arena_estimate_bytes']:,} B")
        for kind in ("inputs", "outputs"):
            for t in sg[kind]:
                click.echo(f"  {kind[:-1]:<6} {t['name']}: {t['dtype']} {t['shape']}{_quant(t)}")
    click.echo("ops: " + ", ".join(f"{k} x{v}" for k, v in summary["op_counts"].items()))
    click.echo(f"fully integer: {'yes' if summary['fully_integer'] else 'no'}")


def _quant(t: dict) -> str:
    q = t.get("quantization")
    return f" (scale {q['scale'][0]:.6g}, zero point {q['zero_point'][0]})" if q else ""
