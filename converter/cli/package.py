"""`edgeconv package`: a converted model as firmware C source or a mobile app bundle."""
from pathlib import Path

import click

from ..pipeline.steps.package import FirmwareConfig, PackageConfig
from .options import echo_warnings, force_option
from .step_options import config_from, step_options

FORMATS = ("c-array", "mobile")  # the CLI's names of the package step's firmware and mobile settings


@click.command()
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="c-array: <name>.h/.c for firmware; mobile: model with TFLite metadata, labels, model card.")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@step_options(FirmwareConfig)
@step_options(PackageConfig, skip=("firmware", "mobile"))
@force_option
def package(model_path, fmt, out, force, **settings):
    """Package MODEL for firmware (aligned const C array, length, arena-size constant) or for
    a mobile app (standard TFLite metadata, labels.txt, model card).

    \b
    Example:
      edgeconv package model_int8.tflite --format c-array -o firmware/
      edgeconv package model_int8.tflite --format mobile --description "Digit classifier" -o app/
    """
    from ..output_safety import check_output
    from ..outputs import atomic_dir
    from ..pipeline.context import Artifact, Context
    from ..pipeline.steps import package as step
    from ..report import Report
    from ..tflite.reader import read_model_file

    firmware = config_from(FirmwareConfig, settings) if fmt == "c-array" else None
    config = config_from(PackageConfig, settings, firmware=firmware, mobile=fmt == "mobile")
    check_output(out, force, {"input model": model_path}, folder=True)
    read_model_file(model_path)
    context = Context(Report(model_path.name), tflite=Artifact.of_file("tflite", model_path))
    with atomic_dir(out, force) as tmp:
        step.run(context, config, folder=tmp)
        written = sorted(p.name for p in tmp.iterdir())
    click.echo(f"Packaged {model_path.name} as {fmt} -> {out}: {', '.join(written)}")
    echo_warnings(context.report)
    if fmt == "c-array" and not context.report.warnings:
        click.echo("Next: compile the .c into the firmware; size the tensor arena with the header's arena constant")
