"""RSS growth over many conversions in one process (a recipe over a folder of models).
Goal: the second half grows at most 20 MB (convert frees its traced graphs: keras_env.release_graphs)."""
from __future__ import annotations

from converter import keras_env
from converter.inputs.data import demo_digits
from converter.demo import build_cnn
from converter.export.tflite import ConvertOptions, convert


def _rss() -> int:
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmRSS"))


def run(models: int = 30) -> dict:
    train, _ = demo_digits(0)
    rss = []
    for k in range(models):
        keras_env.clear_session()
        convert(build_cnn(width=8 + k % 3), train, ConvertOptions(samples=20))
        rss.append(_rss())
    return {"models": models, "rss_after_first_bytes": rss[0], "rss_after_last_bytes": rss[-1],
            "growth_bytes": rss[-1] - rss[0], "growth_second_half_bytes": rss[-1] - rss[len(rss) // 2]}
