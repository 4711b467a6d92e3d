"""`edgeconv ethosu`: compile for an Arm Ethos-U NPU with Vela and report its estimates."""
from pathlib import Path

import click

from .options import emit_json, force_option, json_option, print_table


@click.command()
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(path_type=Path))
@click.option("--accelerator", default="ethos-u55-128", show_default=True, help="Vela accelerator configuration.")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write the Vela-compiled model here.")
@force_option
@json_option
def ethosu(model_path, accelerator, out, force, as_json):
    """Compile MODEL for an Ethos-U NPU with Vela: NPU vs CPU operators, SRAM and flash use,
    cycles and inferences per second (Vela's estimates).

    \b
    Example:
      edgeconv ethosu model_int8.tflite --accelerator ethos-u65-256 -o model_vela.tflite
    """
    from ..output_safety import check_output
    from ..outputs import write_bytes
    from ..targets.ethosu import compile_for_npu
    from ..tflite.reader import read_model_file

    if out is not None:
        check_output(out, force, {"input model": model_path})
    read_model_file(model_path)
    figures, compiled = compile_for_npu(model_path.read_bytes(), accelerator)
    if out is not None:
        write_bytes(out, compiled, force)
    if not figures["npu_operators"]:
        click.echo("Warning: no operator runs on the NPU, so Vela has no estimate; the NPU runs full-int8 "
                   "models only (see `edgeconv inspect`)", err=True)
    if as_json:
        emit_json(figures)
        return
    print_table(f"{model_path.name} on {accelerator} ({figures['system_config']})", [
        ("Vela operators NPU / CPU", f"{figures['npu_operators']} / {figures['cpu_operators']}"),
        ("SRAM / off-chip flash", f"{figures['sram_used_kib']:.2f} KiB / {figures['off_chip_flash_used_kib']:.2f} KiB"),
        ("cycles NPU / total", f"{figures['cycles_npu']:,} / {figures['cycles_total']:,}"),
        ("inference (estimate)", "– (nothing runs on the NPU)" if figures["inference_time_ms"] is None
         else f"{figures['inference_time_ms']:.4g} ms, {figures['inferences_per_second']:,.0f}/s")])
