"""`edgeconv bench`: latency, memory and MAC/s of .tflite models, side by side."""
import os
from pathlib import Path

import click

from .options import console, emit_json, json_option, print_next


def _threads(ctx, param, value):
    try:
        values = [int(v) for v in value.split(",")]
        assert all(v > 0 for v in values)
    except (ValueError, AssertionError):
        raise click.BadParameter(f"'{value}' is not a comma-separated list of positive integers") from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if max(values) > cores:  # extra threads only wait for a core: the figure would measure contention
        raise click.BadParameter(f"{max(values)} threads, but this machine has {cores} CPU core(s)")
    return values


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="MODEL.tflite...")
@click.option("--threads", default="1", callback=_threads, show_default=True, help="Thread counts, e.g. 1,2.")
@click.option("--kernels", default="xnnpack", show_default=True,
              type=click.Choice(["xnnpack", "reference", "xnnpack,reference"]), help="Kernel sets to measure.")
@click.option("--target", default="host", show_default=True,
              help="Where to time the models: host, arm64 (emulated), micro, or ssh://user@host[:port].")
@click.option("--runs", type=click.IntRange(1), default=200, show_default=True)
@click.option("--warmup", type=click.IntRange(0), default=20, show_default=True)
@json_option
def bench(models, threads, kernels, target, runs, warmup, as_json):
    """Measure latency (p50/p90/p99), peak RSS, size and MAC/s of each model on host LiteRT,
    and its tensor arena (estimated head + tail; measured by tflite-micro when installed).

    Give the float and the int8 model together to see them side by side: int8 is not
    always faster.

    \b
    Example:
      edgeconv bench out/demo/model_float.tflite out/demo/model_int8.tflite --threads 1,2
    """
    from ..targets.registry import open_runtime
    from ..verify.measure import measured_arena, size_figures

    open_runtime(target)  # an unknown target fails before any work
    sizes = [size_figures(m) for m in models]  # reads and validates every file before measuring
    for s, m in zip(sizes, models):
        s["arena_measured"] = measured_arena(m)
    rows = [r for m in models for r in _bench_one(m, threads, kernels.split(","), runs, warmup, target)]
    if as_json:
        emit_json({"models": sizes, "runs": [r.to_dict() for r in rows]})
        return
    _print(sizes, rows)


def _print(sizes, rows) -> None:
    from rich.table import Table

    from ..report.units import duration, size

    where = rows[0].runtime if not rows[0].runtime.startswith("host") else "host LiteRT"  # kernels: a column
    table = Table(title=f"Benchmarked {len(sizes)} model(s) on {where}: latency per kernels and threads")
    for col in ("model", "kernels", "threads", "p50", "p90", "p99", "peak RSS", "GMAC/s"):
        table.add_column(col, justify="left" if col in ("model", "kernels") else "right")
    for r in rows:
        s = r.latency
        table.add_row(r.model, r.kernels, str(r.threads), duration(s.p50_ms), duration(s.p90_ms), duration(s.p99_ms),
                      size(r.peak_rss_bytes), f"{r.mac_per_s / 1e9:.2f}")
    sizes_table = Table(title="Flash and RAM")
    for col in ("model", "file", "gzip", "arena est. 32-bit MCU", "arena est. 64-bit",
                "arena measured (tflite-micro, 64-bit host)", "MACs"):
        sizes_table.add_column(col, justify="left" if col == "model" else "right")
    for s in sizes:
        measured = s["arena_measured"].get("total_bytes")
        sizes_table.add_row(s["model"], size(s["size_bytes"]), size(s["gzip_bytes"]),
                            size(s["arena_estimate"]["32bit"]["total_bytes"]),
                            size(s["arena_estimate"]["64bit"]["total_bytes"]),
                            size(measured) if measured is not None else "–", f"{s['macs']:,}")
    out = console()
    out.print(table)
    out.print(sizes_table)
    for s in sizes:
        if "unavailable" in s["arena_measured"]:
            out.print(f"{s['model']}: no measured arena: {s['arena_measured']['unavailable']}")
    print_next("`edgeconv validate MODEL --reference FLOAT --target ...` measures on a device, with accuracy")


def _bench_one(model: Path, *args) -> list:
    """bench_model's rows; an error names the model (several are benched in one command)."""
    from ..errors import ConverterError
    from ..verify.measure import bench_model

    try:
        return bench_model(model, *args)
    except ConverterError as e:
        raise type(e)(f"{model.name}: {e.message}", e.hint) from e
