"""Emulated arm64: LiteRT in an aarch64 userland under qemu-user, with a pinned CPU model.

`setup()` builds the userland once under the cache folder (Debian packages by mmdebstrap,
aarch64 wheels by pip; nothing else is downloaded). Outputs are real aarch64 kernel results;
latency is emulated and labelled so: it predicts nothing about real hardware.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .base import Availability
from .runner_session import RunnerSession, read_result, write_request
from ..errors import ConverterError, ModelError

QEMU_CPU = "neoverse-n1"  # qemu 7.2's default 'max' CPU gives wrong XNNPACK results: always pin
FEATURES = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs"
PACKAGES = "libpython3.11-stdlib,python3.11-minimal,libstdc++6"
WHEEL_TAGS = ("manylinux_2_27_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64", "manylinux_2_17_aarch64")
RUNNER = Path(__file__).with_name("arm64_runner.py")
SETUP_HINT = "run `edgeconv targets setup arm64` (needs qemu-user-static and mmdebstrap from Debian)"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgeconv" / "arm64"


class Arm64EmuRuntime:
    name = "arm64"

    def __init__(self, kernels: str = "xnnpack", timeout: float = 600):
        self.kernels, self.timeout = kernels, timeout

    def availability(self) -> Availability:
        if not shutil.which("qemu-aarch64-static"):
            return Availability(False, "qemu-aarch64-static is not installed", SETUP_HINT)
        if not (cache_dir() / "ready").is_file():
            return Availability(False, f"the arm64 userland is not built ({cache_dir()})", SETUP_HINT)
        return Availability(True)

    def open(self, model: bytes) -> Arm64Session:
        status = self.availability()
        if not status.ok:
            raise ConverterError(f"target arm64 is not available: {status.reason}", hint=status.install)
        return Arm64Session(model, self.kernels, self.timeout)


class Arm64Session(RunnerSession):
    """Emulated latency (benchmark) is qemu's translation speed, not the speed of any arm64 chip."""

    where = "emulated arm64 (qemu)"

    def __init__(self, model: bytes, kernels: str, timeout: float):
        super().__init__(model, kernels)
        self.kernels, self.timeout = kernels, timeout

    def _run(self, inputs: list[np.ndarray], runs: int, warmup: int) -> dict:
        with tempfile.TemporaryDirectory(prefix="edgeconv-arm64-") as tmp:
            tmp = Path(tmp)
            write_request(tmp, self.model, self.kernels, inputs, runs, warmup)
            run_emulated([str(RUNNER), str(tmp / "model.tflite"), str(tmp / "request.npz"), str(tmp / "result.npz")],
                         self.timeout)
            return read_result(tmp / "result.npz")


def run_emulated(args: list[str], timeout: float) -> None:
    root, site = cache_dir() / "root", cache_dir() / "site"
    env = {"QEMU_CPU": QEMU_CPU, "PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": "/tmp",
           "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(["qemu-aarch64-static", "-L", str(root), str(root / "usr/bin/python3.11"), *args],
                              env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ModelError(f"the emulated arm64 run did not finish within {timeout:.0f} s",
                         hint="emulation is 8-110x slower than native: use fewer samples") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise ModelError(f"the emulated arm64 runtime failed: {last[:300]}",
                         hint="run with --verbose; `edgeconv targets setup arm64` rebuilds the userland")


def setup(progress=print) -> Path:
    """Build the userland (idempotent: returns at once when it is ready)."""
    target = cache_dir()
    if (target / "ready").is_file():
        return target
    _ensure_debian_tools(progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".arm64-", dir=target.parent))
    try:
        progress("extracting an arm64 Debian userland (python3.11) with mmdebstrap")
        _run(["mmdebstrap", "--variant=extract", "--architectures=arm64", f"--include={PACKAGES}", "bookworm",
              str(work / "root"), _mirror()])
        progress("installing aarch64 wheels of ai-edge-litert and numpy")
        tags = [a for tag in WHEEL_TAGS for a in ("--platform", tag)]
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(work / "site"), "--only-binary=:all:",
              *tags, "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "ai-edge-litert==2.3.0",
              "numpy"])
        _fake_cpu(work / "root")
        (work / "ready").write_text(QEMU_CPU + "\n")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _fake_cpu(root: Path) -> None:
    """XNNPACK reads the CPU's features from these files; without them it turns itself off."""
    (root / "proc").mkdir(exist_ok=True)
    block = (f"BogoMIPS\t: 50.00\nFeatures\t: {FEATURES}\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
             "CPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n")
    (root / "proc/cpuinfo").write_text("".join(f"processor\t: {i}\n{block}" for i in range(2)))
    cpu = root / "sys/devices/system/cpu"
    cpu.mkdir(parents=True, exist_ok=True)
    for name in ("possible", "present", "online"):
        (cpu / name).write_text("0-1\n")


def _ensure_debian_tools(progress) -> None:
    missing = [pkg for tool, pkg in (("qemu-aarch64-static", "qemu-user-static"), ("mmdebstrap", "mmdebstrap"))
               if not shutil.which(tool)]
    if not missing:
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        raise ConverterError(f"{' and '.join(missing)} are needed and cannot be installed here",
                             hint=f"install them as root: apt-get install {' '.join(missing)}")
    progress(f"installing {' '.join(missing)} with apt-get")
    _run(["apt-get", "update", "-qq"])
    _run(["apt-get", "install", "-y", "-qq", *missing], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def _mirror() -> str:
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split(":", 1)[1].strip()
    return "http://deb.debian.org/debian"


def _run(cmd: list[str], env=None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConverterError(f"`{' '.join(cmd[:3])} ...` failed: {last[:300]}",
                             hint="check access to the Debian and PyPI registries")
