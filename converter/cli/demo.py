"""`edgeconv demo`: the whole flow on built-in data, no files needed."""
from pathlib import Path

import click

from .options import emit_json, force_option, json_option, print_card, quiet, say, seed_option


@click.command()
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("out/demo"), show_default=True,
              help="Folder for the model, the .tflite files and the reports.")
@seed_option
@click.option("--epochs", type=click.IntRange(1, 500), default=30, show_default=True)
@force_option
@json_option
@click.pass_context
def demo(ctx, out, seed, epochs, force, as_json):
    """Train a small CNN on the 8x8 digits, convert it to full int8, validate and report.

    \b
    Example:
      edgeconv demo -o out/demo --force
    """
    from ..demo import DemoOptions, run_demo
    from ..output_safety import check_output

    check_output(out, force, folder=True)
    with quiet(ctx):
        report = run_demo(DemoOptions(out=out, seed=seed, epochs=epochs, force=force),
                          progress=lambda m: None if as_json else say(ctx, m))
    if as_json:
        emit_json(report.to_dict())
    else:
        from ..report.summary import summary_card

        print_card(f"Trained, converted and validated the digits CNN -> {out}", summary_card(report),
                   next_step=f"open {out / 'report.html'}; `edgeconv recipes show demo` is the recipe it ran")
    ctx.exit(0 if report.ok else 1)
