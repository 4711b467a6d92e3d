"""The preprocessing spec: how raw inputs (image pixels, CSV columns) become model inputs.

It is stored inside the converted .tflite (see tflite/metadata.py), so validation, benchmarks
and explanations feed the model exactly what calibration fed it.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import DataError

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
        self._check_finite()
        if self.mean is not None and len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise DataError(f"--mean has {len(self.mean)} values but --std has {len(self.std)}",
                            hint="give one value per channel for both, or one for all")
        if self.std is not None and any(s == 0 for s in self.std):
            raise DataError("--std values must not be zero", hint="use the standard deviation of your training data")
        if self.scale == 0:
            raise DataError("--scale must not be zero", hint="e.g. --scale 0.00392156862745098 for 1/255")

    def _check_finite(self) -> None:
        for name in ("scale", "offset", "mean", "std"):
            values = getattr(self, name)
            values = () if values is None else values if isinstance(values, tuple) else (values,)
            if not all(math.isfinite(v) for v in values):
                raise DataError(f"--{name} must be finite, not {','.join(f'{v:g}' for v in values)}",
                                hint="e.g. --scale 1/255, or --mean 127.5 --std 127.5")

    @property
    def is_identity(self) -> bool:
        return self == Preprocess()

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Numeric part (images are already resized and ordered by the loader)."""
        x = x.astype(np.float32)
        if self.mean is not None:
            self._check_channels(x)
            return (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return x * np.float32(self.scale) + np.float32(self.offset)

    def _check_channels(self, x: np.ndarray) -> None:
        channels = x.shape[-1] if x.ndim > 1 else 1
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise DataError(f"--{name} has {len(values)} values but the data has {channels} channel(s) "
                                f"(samples of shape {x.shape[1:]})", hint="give one value per channel, or one for all")

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


def range_warning(x: np.ndarray, spec: Preprocess, scaled: np.ndarray | None = None,
                  scaling: str = "") -> str | None:
    """A warning when calibration data looks wrong: quantization ranges are computed from these
    values, so constant data, huge values or raw pixels fed to a model trained on [0, 1] ruin
    the int8 model. `scaled`: a sample of `x` through the model's own leading `scaling` layers
    (Rescaling, Normalization), which decide whether the values are what it expects."""
    lo, hi = float(np.min(x)), float(np.max(x))
    if lo == hi:
        return (f"every data value is {lo:g}: constant data gives quantization no ranges to calibrate, so the "
                "int8 model will be inaccurate; calibrate on real samples")
    if max(abs(lo), abs(hi)) > 65535:
        return (f"data values span {lo:g}..{hi:g}, far beyond pixels or normalised inputs; int8 ranges this wide "
                "lose all precision: check the data and its preprocessing")
    if scaled is not None:
        return _scaled_range_warning(lo, hi, scaled, scaling)
    if spec.is_identity and hi > 2.0 and lo >= 0 and np.allclose(x, np.round(x)):
        return (f"data values span {lo:g}..{hi:g} in whole numbers, like raw pixels; if the model was trained on "
                "normalised inputs, pass --scale (e.g. 1/255) or --mean/--std")
    return None


NORMALISED_LIMIT = 20.0  # beyond this, the output of a model's own Rescaling/Normalization is not normalised


def _scaled_range_warning(lo: float, hi: float, scaled: np.ndarray, scaling: str) -> str | None:
    """A model that rescales its input takes raw pixels by design (EfficientNet, MobileNetV3):
    only data its layers leave far from normalised (they expected [0, 1], say) is wrong."""
    s_lo, s_hi = float(np.min(scaled)), float(np.max(scaled))
    if max(abs(s_lo), abs(s_hi)) <= NORMALISED_LIMIT:
        return None
    return (f"data values span {lo:g}..{hi:g}, which the model's own {scaling} maps to {s_lo:g}..{s_hi:g}, far from "
            "normalised: those layers expect smaller values (e.g. pixels in [0, 1]); pass --scale (e.g. 1/255) "
            "or check the preprocessing")
