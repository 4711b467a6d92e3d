"""`edgeconv inspect` on a 25 MB .tflite: wall time and peak RSS of the command."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from converter import keras_env
from converter.export.tflite import ConvertOptions, convert

_PEAK = ("import sys, runpy; sys.argv = ['edgeconv', 'inspect', sys.argv[1], '--json'];"
         "from converter.cli.main import cli\n"
         "try: cli.main(standalone_mode=False)\n"
         "finally: print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1],"
         " file=sys.stderr)")


def big_model(path: Path) -> int:
    keras = keras_env.keras()
    model = keras.Sequential([keras.Input((1024,)), keras.layers.Dense(3072), keras.layers.Dense(1024)])
    path.write_bytes(convert(model, None, ConvertOptions(mode="float32")).tflite)
    return path.stat().st_size


def run(repeats: int = 5) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.tflite"
        size = big_model(path)
        times, peaks = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - t0)
            peaks.append(int(out.stderr.strip().splitlines()[-1]) * 1024)
    return {"size_bytes": size, "seconds_median": sorted(times)[len(times) // 2], "peak_rss_bytes": max(peaks)}
