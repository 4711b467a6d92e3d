"""Every target edgeconv knows, one frozen record each: what it is, whether it can run here
(and how to make it available), what its figures mean, and how to open it. `validate
--target`, `edgeconv targets` and the latency labels of reports all read these records, so a
new target is one record here (see docs/architecture.md)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from .base import Availability, Runtime
from ..errors import InputError

# What a latency figure of a target is: only "measured" describes a deployment target.
LatencyKind = Literal["measured", "emulated", "not a device prediction"]


@dataclass(frozen=True)
class Capabilities:
    latency: LatencyKind | None  # None: the target runs no benchmark here
    timing: str  # the label of its latency figures in reports ("runtime")
    measures_arena: bool  # the arena is measured by the runtime, not only estimated
    bit_exact: bool  # outputs bit-identical to LiteRT's reference kernels (with --kernels reference)
    int16_activations: bool = True  # runs int16-activation (16x8) ops; tflite-micro for a subset, checked per model


@dataclass(frozen=True)
class RuntimeOptions:
    """What open_runtime passes to a target's factory; each target uses the ones it knows."""

    kernels: str = "xnnpack"
    workers: int = 1
    identity: Path | None = None
    known_hosts: Path | None = None
    python: str = "python3"


@dataclass(frozen=True)
class Target:
    name: str
    description: str  # one line, shown by `edgeconv targets`
    capabilities: Capabilities
    check: Callable[[], Availability]  # whether it can run here, with the install command
    factory: Callable[[str, RuntimeOptions], Runtime] | None = None  # None: it opens no sessions
    instead: str = ""  # for a target without sessions: the command that serves it
    listed: bool = True  # in `edgeconv targets` (ssh is checked per board, so it is not)

    def availability(self) -> Availability:
        return self.check()

    def runtime(self, spec: str, options: RuntimeOptions = RuntimeOptions()) -> Runtime:
        if self.factory is None:
            raise InputError(f"target '{self.name}' opens no sessions: it predicts or compiles, it does not run "
                             f"models here", hint=f"use `{self.instead}` instead")
        return self.factory(spec, options)


def _host_availability() -> Availability:
    from .host import HostRuntime

    return HostRuntime().availability()


def _host(spec: str, o: RuntimeOptions) -> Runtime:
    from .worker import WorkerRuntime

    return WorkerRuntime(o.kernels, o.workers)  # always in workers: a native crash is an error, not our death


def _arm64_availability() -> Availability:
    from .arm64_emu import Arm64EmuRuntime

    return Arm64EmuRuntime().availability()


def _arm64(spec: str, o: RuntimeOptions) -> Runtime:
    from .arm64_emu import Arm64EmuRuntime

    return Arm64EmuRuntime(kernels=o.kernels)


def _micro_availability() -> Availability:
    from .micro import MicroRuntime

    return MicroRuntime().availability()


def _micro(spec: str, o: RuntimeOptions) -> Runtime:
    from .micro import MicroRuntime

    return MicroRuntime()


def _ssh_availability() -> Availability:
    return Availability(False, "checked per board", "pass --target ssh://user@host[:port] (with --identity, "
                                                    "--known-hosts) to `edgeconv validate`")


def _ssh(spec: str, o: RuntimeOptions) -> Runtime:
    from .ssh import SshRuntime

    return SshRuntime(spec, o.identity, o.known_hosts, o.python, o.kernels)


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


TARGETS: tuple[Target, ...] = (
    Target("host", "LiteRT on this machine (XNNPACK; reference kernels are the correctness oracle)",
           Capabilities("measured", "host LiteRT (XNNPACK)", measures_arena=False, bit_exact=True),
           _host_availability, _host),
    Target("arm64", "LiteRT in an emulated aarch64 userland (qemu-user, neoverse-n1): real arm64 kernels, "
                    "emulated timing",
           Capabilities("emulated", "emulated arm64 (qemu), not a hardware prediction", measures_arena=False,
                        bit_exact=True),  # test_arm64: bit-identical to the host for both kernels
           _arm64_availability, _arm64),
    Target("micro", "tflite-micro's interpreter: reference kernels (FULLY_CONNECTED within 1 LSB of LiteRT's), "
                    "measured tensor arena",
           Capabilities("not a device prediction", "tflite-micro on x86-64 host (not a device prediction)",
                        measures_arena=True, bit_exact=False),
           _micro_availability, _micro),
    Target("ssh", "a real board over ssh (ssh://user@host[:port]): its own LiteRT or tflite_runtime, real timing",
           Capabilities("measured", "ssh target", measures_arena=False,
                        bit_exact=False),  # the board's interpreter build is not ours
           _ssh_availability, _ssh, listed=False),
    Target("edgetpu", "Coral EdgeTPU: mapping predicted from the published rules; runs need libedgetpu and a device",
           Capabilities(None, "edgetpu target", measures_arena=False, bit_exact=False, int16_activations=False),
           edgetpu_availability, instead="edgeconv edgetpu MODEL"),
    Target("ethosu", "Arm Ethos-U NPU: Vela compiles and estimates (`edgeconv ethosu MODEL`); runs need the NPU",
           Capabilities(None, "ethosu target", measures_arena=False, bit_exact=False,
                        int16_activations=False),  # the rule: int8 only there, recovery by QAT
           ethosu_availability, instead="edgeconv ethosu MODEL"),
)
BY_NAME = {t.name: t for t in TARGETS}


def target(spec: str) -> Target:
    """The record of a --target value: a name, or ssh://user@host[:port]."""
    name = "ssh" if spec.startswith("ssh://") else spec
    if name not in BY_NAME or spec == "ssh":  # the bare name names no board
        raise InputError(f"unknown target '{spec}'", hint="targets: host, arm64, micro, ssh://user@host[:port]; "
                                                          "see `edgeconv targets`")
    return BY_NAME[name]


def open_runtime(spec: str, *, kernels: str = "xnnpack", workers: int = 1, identity: Path | None = None,
                 known_hosts: Path | None = None, python: str = "python3") -> Runtime:
    """A Runtime for any --target value. Host sessions run in `workers` worker processes."""
    options = RuntimeOptions(kernels, workers, identity, known_hosts, python)
    return target(spec).runtime(spec, options)


def timing_label(name: str) -> str:
    """Where a latency figure of runtime `name` was measured, as reports label it."""
    return BY_NAME[name].capabilities.timing if name in BY_NAME else f"{name} target"


def listed() -> dict[str, tuple[Target, Availability]]:
    """The targets `edgeconv targets` shows, each with its availability here."""
    return {t.name: (t, t.availability()) for t in TARGETS if t.listed}
