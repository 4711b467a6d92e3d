"""`edgeconv ethosu`: compile for an Arm Ethos-U NPU with Vela and report its estimates."""
from pathlib import Path

import click

from ..pipeline.steps.ethosu import EthosUConfig
from .options import echo_warnings, emit_json, force_option, json_option, print_table
from .step_options import config_from, step_options


@click.command()
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(path_type=Path))
@step_options(EthosUConfig)
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write the Vela-compiled model here.")
@force_option
@json_option
def ethosu(model_path, out, force, as_json, **settings):
    """Compile MODEL for an Ethos-U NPU with Vela: NPU vs CPU operators, SRAM and flash use,
    cycles and inferences per second (Vela's estimates).

    \b
    Example:
      edgeconv ethosu model_int8.tflite --accelerator ethos-u65-256 -o model_vela.tflite
    """
    from ..output_safety import check_output
    from ..outputs import write_bytes
    from ..pipeline.context import Artifact, Context
    from ..pipeline.steps import ethosu as step
    from ..report import Report
    from ..tflite.reader import read_model_file

    config = config_from(EthosUConfig, settings)
    if out is not None:
        check_output(out, force, {"input model": model_path})
    read_model_file(model_path)
    context = Context(Report(f"edgeconv ethosu {model_path.name}"), tflite=Artifact.of_file("tflite", model_path))
    figures = step.run(context, config)
    if out is not None:
        write_bytes(out, context.artifacts[-1].read(), force)
    echo_warnings(context.report)
    accelerator = config.accelerator
    if as_json:
        emit_json(figures)
        return
    from ..report.units import duration, size

    estimate = ("– (nothing runs on the NPU)" if figures["inference_time_ms"] is None
                else f"{duration(figures['inference_time_ms'])}, {figures['inferences_per_second']:,.0f} inferences/s")
    print_table(f"Compiled {model_path.name} for {accelerator} ({figures['system_config']}) with Vela", [
        ("operators on NPU / CPU (Vela's, after its rewrites)", f"{figures['npu_operators']} / {figures['cpu_operators']}"),
        ("SRAM / off-chip flash", f"{size(figures['sram_used_kib'] * 1024)} / {size(figures['off_chip_flash_used_kib'] * 1024)}"),
        ("cycles NPU / total", f"{figures['cycles_npu']:,} / {figures['cycles_total']:,}"),
        ("inference (Vela's estimate)", estimate)],
        None if out is not None else "-o model_vela.tflite writes the compiled model for the NPU's firmware")
