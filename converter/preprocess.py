"""The preprocessing spec: how raw inputs (image pixels, CSV columns) become model inputs.

It is stored inside the converted .tflite (see tflite/metadata.py), so validation, benchmarks
and explanations feed the model exactly what calibration fed it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from .errors import DataError

CHANNEL_ORDERS = ("rgb", "bgr")


@dataclass(frozen=True)
class Preprocess:
    resize: tuple[int, int] | None = None  # (height, width) for images; None: the model's input size
    scale: float = 1.0  # x * scale + offset ...
    offset: float = 0.0
    mean: tuple[float, ...] | None = None  # ... or (x - mean) / std, per channel
    std: tuple[float, ...] | None = None
    channel_order: str = "rgb"
    grayscale: bool = False

    def __post_init__(self):
        if self.channel_order not in CHANNEL_ORDERS:
            raise DataError(f"unknown channel order '{self.channel_order}'", hint="use rgb or bgr")
        if (self.mean is None) != (self.std is None):
            raise DataError("--mean and --std go together", hint="give both, one value per channel or one for all")
        if self.std is not None and any(s == 0 for s in self.std):
            raise DataError("--std values must not be zero", hint="use the standard deviation of your training data")
        if self.scale == 0:
            raise DataError("--scale must not be zero", hint="e.g. --scale 0.00392156862745098 for 1/255")

    @property
    def is_identity(self) -> bool:
        return self == Preprocess()

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Numeric part (images are already resized and ordered by the loader)."""
        x = x.astype(np.float32)
        if self.mean is not None:
            return (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return x * np.float32(self.scale) + np.float32(self.offset)

    def expected_range(self, raw_max: float = 255.0) -> tuple[float, float]:
        """The range inputs should fall in when raw values span [0, raw_max]."""
        lo, hi = self.apply(np.array([0.0, raw_max])).tolist() if self.mean is None else (-5.0, 5.0)
        return min(lo, hi), max(lo, hi)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preprocess:
        d = json.loads(text)
        for key in ("resize", "mean", "std"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


def range_warning(x: np.ndarray, spec: Preprocess) -> str | None:
    """A warning when calibration data looks unnormalised: quantization ranges are computed
    from these values, so raw pixels fed to a model trained on [0, 1] ruin the int8 model."""
    lo, hi = float(np.min(x)), float(np.max(x))
    if spec.is_identity and hi > 2.0 and lo >= 0 and np.allclose(x, np.round(x)):
        return (f"data values span {lo:g}..{hi:g} in whole numbers, like raw pixels; if the model was trained on "
                "normalised inputs, pass --scale (e.g. 1/255) or --mean/--std")
    return None
