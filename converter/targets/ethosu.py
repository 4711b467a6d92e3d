"""Arm Ethos-U NPUs through the Vela compiler (the [ethosu] extra): compile a full-int8 model
for an accelerator configuration and report what Vela estimates: NPU vs CPU operators,
SRAM and flash use, cycles and inferences per second.

A Vela-compiled model holds an `ethos-u` custom op that only firmware with the NPU driver runs:
the figures are Vela's performance estimates, not measurements.
"""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import ConverterError, ModelError
from ..tflite.reader import read_model

ACCELERATORS = ("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u65-512",
                "ethos-u85-128", "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024", "ethos-u85-2048")
INSTALL = "pip install 'edgeconv[ethosu]'  (ethos-u-vela)"


def compile_for_npu(model: bytes, accelerator: str = "ethos-u55-128", timeout: float = 600) -> tuple[dict, bytes]:
    """(figures, compiled model). Raises a clear error when Vela is missing or fails."""
    read_model(model)  # a clear error for non-models before Vela sees the file
    vela = vela_path()
    if vela is None:
        raise ConverterError("the Vela compiler is not installed", hint=INSTALL)
    if accelerator not in ACCELERATORS:
        raise ConverterError(f"unknown accelerator '{accelerator}'", hint=f"one of {', '.join(ACCELERATORS)}")
    with tempfile.TemporaryDirectory(prefix="edgeconv-vela-") as tmp:
        src = Path(tmp) / "model.tflite"
        src.write_bytes(model)
        done = subprocess.run([vela, str(src), "--accelerator-config", accelerator, "--output-dir", str(Path(tmp) / "out")],
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
            raise ModelError(f"Vela could not compile the model: {last[:300]}", hint="Vela needs a full-int8 model")
        summary = next((Path(tmp) / "out").glob("*_summary_*.csv"))
        figures = _figures(summary, done.stdout)
        compiled = next((Path(tmp) / "out").glob("*_vela.tflite")).read_bytes()
    return {"accelerator": accelerator, **figures}, compiled


def vela_path() -> str | None:
    """Vela's script beside this interpreter (a venv need not be on PATH), else on PATH."""
    beside = Path(sys.executable).parent / "vela"
    return str(beside) if beside.is_file() else shutil.which("vela")


def _figures(summary: Path, console: str) -> dict:
    with summary.open() as f:
        row = next(csv.DictReader(f))
    ops = dict(re.findall(r"(CPU|NPU) operators = (\d+)", console))
    return {"system_config": row["system_config"], "memory_mode": row.get("memory_mode", ""),
            "npu_operators": int(ops.get("NPU", 0)), "cpu_operators": int(ops.get("CPU", 0)),
            "sram_used_kib": float(row["sram_memory_used"]), "off_chip_flash_used_kib": float(row["off_chip_flash_memory_used"]),
            "cycles_npu": int(float(row["cycles_npu"])), "cycles_total": int(float(row["cycles_total"])),
            **_timing(row, int(ops.get("NPU", 0)))}


def _timing(row: dict, npu_operators: int) -> dict:
    """Vela's estimate covers the NPU only: with no NPU operator it is 0 ms and NaN/s, which
    says nothing (and NaN is not JSON), so there is no estimate."""
    if npu_operators == 0:
        return {"inference_time_ms": None, "inferences_per_second": None}
    return {"inference_time_ms": float(row["inference_time"]) * 1e3,
            "inferences_per_second": float(row["inferences_per_second"])}
