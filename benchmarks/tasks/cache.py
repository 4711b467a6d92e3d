"""Where built task data is kept between runs: ~/.cache/edgeconv/tasks (EDGECONV_TASK_CACHE
overrides it). Entries are .npz files named by a key that holds every input of the builder, so
an entry never needs invalidating; they are written atomically."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np


def cache_dir() -> Path:
    return Path(os.environ.get("EDGECONV_TASK_CACHE") or Path.home() / ".cache" / "edgeconv" / "tasks")


def cached_arrays(key: str, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays stored under `key`, built (and stored) on first use."""
    path = cache_dir() / f"{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(partial, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(partial, path)
    return arrays
