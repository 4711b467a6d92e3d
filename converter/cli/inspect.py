"""`edgeconv inspect`: what is inside a .tflite file, without TensorFlow."""
from pathlib import Path

import click

from .options import emit_json, json_option


@click.command()
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(path_type=Path))
@click.option("--tensors", is_flag=True, help="List every tensor with its quantization.")
@json_option
def inspect(model_path, tensors, as_json):
    """Ops, inputs, outputs, quantization, MACs and the tensor-arena estimate of a .tflite model.

    \b
    Example:
      edgeconv inspect model_int8.tflite --json
    """
    from ..tflite.summary import summarize

    summary = summarize(model_path, tensors)
    if as_json:
        emit_json(summary)
        return
    w = summary["weights"]
    click.echo(f"{model_path}: {summary['size_bytes']:,} bytes, {len(summary['subgraphs'])} subgraph(s), "
               f"{summary['macs']:,} MACs per inference")
    if summary["free_size_inputs"]:
        click.echo(f"Warning: input(s) {', '.join(summary['free_size_inputs'])} have a free size: MACs and arena "
                   "below are for the file's placeholder sizes, not for the size you will run", err=True)
    for sg in summary["subgraphs"]:
        click.echo(f"subgraph {sg['index']} {sg['name']}: {sg['operator_count']} ops, activations "
                   f"{sg['arena_estimate_bytes']:,} B{', dynamic input' if sg['dynamic'] else ''}"
                   f"{', %d variable(s)' % sg['variables'] if sg['variables'] else ''}")
        for kind in ("inputs", "outputs"):
            for t in sg[kind]:
                click.echo(f"  {kind[:-1]:<6} {t['name']}: {t['dtype']} {t['shape']}{_quant(t)}")
        for t in sg.get("tensors", []):
            click.echo(f"  tensor {t['index']:>4} {t['name']}: {t['dtype']} {t['shape']}"
                       f"{' const' if t.get('constant') else ''}{_quant(t)}")
    versions = {}
    for sg in summary["subgraphs"]:
        for op in sg["operators"]:
            versions.setdefault(op["op"], set()).add(op["version"])
    click.echo("ops: " + ", ".join(f"{k} x{v} (v{','.join(map(str, sorted(versions[k])))})"
                                   for k, v in summary["op_counts"].items()))
    if summary["custom_ops"]:
        click.echo("custom ops: " + ", ".join(summary["custom_ops"]))
    click.echo("weights: " + ", ".join(f"{k} {v:,} B" for k, v in w["bytes_by_dtype"].items())
               + (f"; {w['sparse_tensors']} sparse tensor(s)" if w["sparse_tensors"] else ""))
    for bits, label in (("32bit", "32-bit MCU"), ("64bit", "64-bit host")):
        a = summary["arena"][bits]
        click.echo(f"tensor arena, estimated for a {label}: head {a['head_bytes']:,} + tail {a['tail_bytes']:,} "
                   f"= total {a['total_bytes']:,} B" + (f" (assumed op data for {', '.join(a['unknown_ops'])})"
                                                        if a["unknown_ops"] else ""))
    for line in _integer_lines(summary):
        click.echo(line)


def _integer_lines(s: dict) -> list[str]:
    io, floats = s["io_types"], s["float_ops"]
    ops = sorted({o["op"] for o in floats})
    why = [reason for reason, bad in (("float ops", floats), ("non-integer I/O", not s["integer_io"])) if bad]
    return [f"I/O types: inputs {', '.join(io['inputs']) or '–'}; outputs {', '.join(io['outputs']) or '–'}",
            "all ops integer: " + (f"no ({len(floats)} op(s) compute in float: {', '.join(ops)})" if floats else "yes"),
            f"fully integer: {'yes' if s['fully_integer'] else 'no (' + ' and '.join(why) + ')'}"]


def _quant(t: dict) -> str:
    q = t.get("quantization")
    if not q:
        return ""
    if len(q["scale"]) > 1:
        return f" (per-channel on axis {q['axis']}: {len(q['scale'])} scales)"
    return f" (scale {q['scale'][0]:.6g}, zero point {q['zero_point'][0]})"
