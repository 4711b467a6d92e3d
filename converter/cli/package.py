"""`edgeconv package`: a converted model as firmware C source or a mobile app bundle."""
from pathlib import Path

import click

from .options import force_option


@click.command()
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["c-array", "mobile"]), required=True,
              help="c-array: <name>.h/.c for firmware; mobile: model with TFLite metadata, labels, model card.")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--xxd-names", is_flag=True, help="Name the C array like `xxd -i` does.")
@click.option("--description", default="", help="Model description for the mobile bundle.")
@force_option
def package(model_path, fmt, out, xxd_names, description, force):
    """Package MODEL for firmware (aligned const C array, length, arena-size constant) or for
    a mobile app (standard TFLite metadata, labels.txt, model card).

    \b
    Example:
      edgeconv package model_int8.tflite --format c-array -o firmware/
      edgeconv package model_int8.tflite --format mobile --description "Digit classifier" -o app/
    """
    from ..export.firmware import c_array
    from ..export.mobile import write_bundle
    from ..output_safety import check_output
    from ..outputs import atomic_dir
    from ..report import Report
    from ..tflite.arena import estimate
    from ..tflite.reader import read_model_file

    check_output(out, force, {"input model": model_path}, folder=True)
    info = read_model_file(model_path)
    model = model_path.read_bytes()
    with atomic_dir(out, force) as tmp:
        if fmt == "c-array":
            src = c_array(model, model_path.name, estimate(info).total, xxd_names)
            (tmp / src.header_name).write_text(src.header)
            (tmp / src.source_name).write_text(src.source)
        else:
            write_bundle(tmp, model, model_path.name, Report(model_path.name), description)
        written = sorted(p.name for p in tmp.iterdir())
    click.echo(f"{out}: {', '.join(written)}")
