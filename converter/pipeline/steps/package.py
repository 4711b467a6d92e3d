"""package: the converted model as firmware C source (aligned array, length, arena size) or
as a mobile app bundle (standard TFLite metadata, labels, model card)."""
from __future__ import annotations

from dataclasses import dataclass

from ...settings import normalise, setting
from ..context import Context

NAME = "package"
PHASE = "model"


@dataclass(frozen=True)
class FirmwareConfig:
    xxd_names: bool = setting(False, help="Name the C array like `xxd -i` does (model_tflite, model_tflite_len).")
    alignment: int = setting(16, low=1, power_of_two=True, help="Byte alignment of the array (tflite-micro needs 16).")

    def __post_init__(self):
        normalise(self, f"{NAME}.firmware")


@dataclass(frozen=True)
class PackageConfig:
    firmware: FirmwareConfig | None = setting(None, help="Write <name>.h/.c for firmware.")
    mobile: bool = setting(False, help="Write the model with TFLite metadata, labels.txt and a model card.")
    description: str = setting("", help="Model description for the mobile bundle.")

    def __post_init__(self):
        normalise(self, NAME)


def run(context: Context, config: PackageConfig, folder=None):
    """Writes into `folder` (default: the run's folder, firmware/ and mobile/ inside it)."""
    folder = folder or context.folder
    if config.firmware is not None:
        firmware(context, config.firmware, folder if folder != context.folder else folder / "firmware")
    if config.mobile:
        mobile(context, config, folder if folder != context.folder else folder / "mobile")


def firmware(context: Context, config: FirmwareConfig, folder) -> None:
    from ...export.firmware import c_array
    from ...tflite.arena import estimate
    from ...tflite.compat.tflm import micro_problems
    from ...tflite.reader import read_model

    tflite = context.tflite.read()
    info = read_model(tflite)
    for problem in micro_problems(info, npu_build=True):  # other MCU runtimes may run it: a warning, not a refusal
        context.report.warn(f"tflite-micro cannot run this model: {problem}")
    src = c_array(tflite, context.tflite.name, estimate(info).total, config.xxd_names, config.alignment)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / src.header_name).write_text(src.header)
    (folder / src.source_name).write_text(src.source)


def mobile(context: Context, config: PackageConfig, folder) -> None:
    from ...export.mobile import write_bundle

    write_bundle(folder, context.tflite.read(), context.tflite.name, context.report, config.description)


CONFIG = PackageConfig
