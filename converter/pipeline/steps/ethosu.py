"""ethosu: compile for an Arm Ethos-U NPU with Vela and record its estimates."""
from __future__ import annotations

from dataclasses import dataclass

from ...settings import SettingError, normalise, setting
from ...targets.ethosu import ACCELERATORS
from ..context import Context

NAME = "ethosu"
PHASE = "model"


@dataclass(frozen=True)
class EthosUConfig:
    accelerator: str = setting("ethos-u55-128", help=f"Vela accelerator configuration: {', '.join(ACCELERATORS)}.")

    def __post_init__(self):
        normalise(self, NAME)
        if self.accelerator not in ACCELERATORS:  # exit 3 as Vela's own refusal would be, not a usage error
            raise SettingError(f"unknown accelerator '{self.accelerator}'", hint=f"one of {', '.join(ACCELERATORS)}",
                               key="accelerator")


def run(context: Context, config: EthosUConfig):
    """Adds the `ethosu` section (Vela's estimates) and the compiled model as an artifact."""
    from ...targets.ethosu import compile_for_npu
    from ...tflite.reader import read_model

    figures, compiled = compile_for_npu(context.tflite.read(), config.accelerator)
    context.write("model_vela.tflite", compiled, "tflite", parent=context.tflite)
    if not figures["npu_operators"]:
        context.report.warn("no operator runs on the NPU, so Vela has no estimate; the NPU runs full-int8 "
                            "models only (see `edgeconv inspect`)")
    free = read_model(context.tflite.read()).free_size_inputs()
    if free:
        context.report.warn(f"input(s) {', '.join(free)} have a free size: Vela compiled the file's placeholder "
                            "sizes, so its estimates are not those of the model at its real size; convert with "
                            "fixed input sizes")
    context.report.add("ethosu", **figures)
    return figures


CONFIG = EthosUConfig
