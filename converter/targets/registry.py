"""Every target edgeconv knows, with whether it can run here and how to make it available."""
from __future__ import annotations

from .base import Availability


def edgetpu_availability() -> Availability:
    """The mapping prediction always works; running needs libedgetpu and a device."""
    import ctypes.util

    if ctypes.util.find_library("edgetpu") is None:  # load_delegate on a missing library leaves noise at exit
        return Availability(False, "libedgetpu is not installed (prediction only: `edgeconv edgetpu MODEL`)",
                            "install libedgetpu from Coral's package repository and plug in a device")
    from ai_edge_litert.interpreter import load_delegate

    try:
        load_delegate("libedgetpu.so.1", {"device": "usb"})
    except OSError:
        return Availability(False, "libedgetpu is not installed (prediction only: `edgeconv edgetpu MODEL`)",
                            "install libedgetpu from Coral's package repository and plug in a device")
    except ValueError:
        return Availability(False, "libedgetpu is installed but no EdgeTPU device is attached",
                            "plug in a Coral USB Accelerator or use a Dev Board")
    return Availability(True)


def ethosu_availability() -> Availability:
    from .ethosu import INSTALL, vela_path

    if vela_path():
        return Availability(True)
    return Availability(False, "ethos-u-vela is not installed", INSTALL)


def targets() -> dict[str, Availability]:
    from .arm64_emu import Arm64EmuRuntime
    from .host import HostRuntime
    from .micro import MicroRuntime

    return {"host": HostRuntime().availability(), "arm64": Arm64EmuRuntime().availability(),
            "micro": MicroRuntime().availability(), "edgetpu": edgetpu_availability(),
            "ethosu": ethosu_availability()}


DESCRIPTIONS = {
    "host": "LiteRT on this machine (XNNPACK; reference kernels are the correctness oracle)",
    "arm64": "LiteRT in an emulated aarch64 userland (qemu-user, neoverse-n1): real arm64 kernels, emulated timing",
    "micro": "tflite-micro's interpreter: reference kernels (FULLY_CONNECTED within 1 LSB of LiteRT's), measured tensor arena",
    "edgetpu": "Coral EdgeTPU: mapping predicted from the published rules; runs need libedgetpu and a device",
    "ethosu": "Arm Ethos-U NPU: Vela compiles and estimates (`edgeconv ethosu MODEL`); runs need the NPU",
}


def runtime_for(target: str, kernels: str = "xnnpack", identity=None, known_hosts=None, python: str = "python3"):
    """A Runtime from a --target value: host, arm64, micro or ssh://user@host[:port]."""
    from ..errors import InputError
    from .arm64_emu import Arm64EmuRuntime
    from .host import HostRuntime
    from .micro import MicroRuntime
    from .ssh import SshRuntime

    if target.startswith("ssh://"):
        return SshRuntime(target, identity, known_hosts, python, kernels)
    factories = {"host": lambda: HostRuntime(kernels=kernels), "arm64": lambda: Arm64EmuRuntime(kernels=kernels),
                 "micro": MicroRuntime}
    if target not in factories:
        raise InputError(f"unknown target '{target}'", hint="targets: host, arm64, micro, ssh://user@host[:port]; "
                                                            "see `edgeconv targets`")
    return factories[target]()
