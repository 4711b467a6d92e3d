"""Datasets: .npz / .npy files and the built-in demo set; calibration sampling; checks
against a model's inputs. Everything here is NumPy only (no TensorFlow)."""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DataError
from .readers import read_csv, read_image_folder
from .preprocess import Preprocess

DEMO = "demo"


@dataclass(frozen=True)
class Dataset:
    """Samples along axis 0, already preprocessed (what the model consumes). `x` is one array,
    or a tuple of arrays for a multi-input model (in the model's input order)."""

    x: np.ndarray | tuple[np.ndarray, ...]
    y: np.ndarray | None  # integer class labels, or None when unlabelled
    source: str
    classes: tuple[str, ...] | None = None  # names of the labels, where the source has them

    @property
    def inputs(self) -> tuple[np.ndarray, ...]:
        return self.x if isinstance(self.x, tuple) else (self.x,)

    def __len__(self) -> int:
        return len(self.inputs[0])

    def take(self, indices: np.ndarray) -> Dataset:
        x = tuple(a[indices] for a in self.inputs)
        return replace(self, x=x if isinstance(self.x, tuple) else x[0],
                       y=None if self.y is None else self.y[indices])


FORMATS_HINT = ("pass an .npz (x, optional y), an .npy, a .csv, a folder of images (one subfolder per class), "
                "or 'demo'")


def load_dataset(spec: str, preprocess: Preprocess | None = None, input_shape: tuple | None = None,
                 label_column: str | None = None, output_shapes: list[tuple] | None = None,
                 input_names: list[str] | None = None) -> Dataset:
    """Read `spec` and apply the preprocessing (None: none). `input_shape` (with batch dim)
    gives image folders their default size and channel count; the model's `output_shapes`
    tell how many classes the labels may name (see `checked_labels`); `input_names`, in the
    order the caller wants the inputs, let an .npz name its arrays after the model's inputs."""
    preprocess = preprocess or Preprocess()
    return checked_labels(_read(spec, preprocess, input_shape, label_column, input_names),
                          class_count(output_shapes or []))


def _read(spec: str, preprocess: Preprocess, input_shape: tuple | None, label_column: str | None,
          input_names: list[str] | None = None) -> Dataset:
    if spec == DEMO:
        return demo_digits()[1]
    path = check_data_path(spec)
    if path.is_dir():
        size, channels = _image_geometry(input_shape)
        x, y, classes = read_image_folder(path, preprocess, size, channels)
        return _checked(Dataset(preprocess.apply(x), y, str(path), classes), str(path))
    if path.suffix.lower() == ".csv":
        x, y, classes = read_csv(path, label_column)
        return _checked(Dataset(preprocess.apply(x), y, str(path), classes), str(path))
    ds = _load_npz(path, input_names) if path.suffix.lower() == ".npz" else _load_npy(path)
    if not preprocess.is_identity:
        ds = replace(ds, x=tuple(preprocess.apply(a) for a in ds.inputs) if isinstance(ds.x, tuple)
                     else preprocess.apply(ds.x))
    return _checked(ds, str(path))


def check_data_path(spec: str) -> Path:
    """The cheap checks, done before any model is loaded."""
    path = Path(spec)
    if spec == DEMO:
        return path
    if not path.exists():
        raise DataError(f"data path {path} does not exist", hint=FORMATS_HINT)
    if path.is_dir():
        return path
    if path.stat().st_size == 0:
        raise DataError(f"data file {path} is empty", hint=FORMATS_HINT)
    if path.suffix.lower() not in (".npz", ".npy", ".csv"):
        raise DataError(f"unsupported data format '{path.suffix}' ({path})", hint=FORMATS_HINT)
    _check_signature(path)
    return path


def _check_signature(path: Path) -> None:
    """An .npz must be a zip and an .npy start with NumPy's header; otherwise NumPy tries the
    file as a pickle and blames "object data"."""
    suffix = path.suffix.lower()
    if suffix == ".npz" and not zipfile.is_zipfile(path):
        raise DataError(f"{path} is not an .npz file (not a zip archive)", hint="write it with numpy.savez")
    if suffix == ".npy":
        with path.open("rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise DataError(f"{path} is not an .npy file (no NumPy header)", hint="write it with numpy.save")


IMAGE_OPTIONS = {"resize": "--resize", "grayscale": "--grayscale", "bgr": "--bgr"}


def unused_option(spec: str, given: dict) -> str | None:
    """Why an option given for `spec` would do nothing (None when all apply): image options
    apply to image folders, --label-column to CSV files. Ignored silently, they would also be
    stored in the converted model and misapplied later."""
    path = Path(spec)
    kind = "images" if spec != DEMO and path.is_dir() else path.suffix.lower() if spec != DEMO else DEMO
    for key, option in IMAGE_OPTIONS.items():
        if given.get(key) and kind != "images":
            return f"{option} applies to image folders only, and {spec} is not one"
    if given.get("label_column") and kind != ".csv":
        return f"--label-column applies to .csv data only, and {spec} is not a .csv file"
    return None


def _image_geometry(input_shape: tuple | None):
    if input_shape is None or len(input_shape) != 4:
        return None, None
    h, w, c = input_shape[1:]
    return ((h, w) if h and w and h > 0 and w > 0 else None), c


def _load_npz(path: Path, input_names: list[str] | None = None) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = _input_keys(f.files, input_names)
            if keys is None:
                named = f" or one named after each model input ({', '.join(input_names)})" if input_names else ""
                raise DataError(f"{path} has no array named 'x'{named} (found: {', '.join(f.files) or 'none'})",
                                hint="save inputs as x (and integer labels as y): np.savez(path, x=..., y=...); "
                                     "for several model inputs name each array after its input, or use x0, x1, ... "
                                     "in the model's input order")
            x = f["x"] if keys == ["x"] else tuple(f[k] for k in keys)
            return Dataset(x, f["y"] if "y" in f.files else None, str(path))
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read {path} as .npz: {e}", hint="write it with numpy.savez") from None


def _input_keys(files: list[str], input_names: list[str] | None) -> list[str] | None:
    """The .npz arrays that hold the inputs, in input order: x; x0, x1, ...; or, when every
    model input has an array of its own name, those (matched by name, so order cannot swap them)."""
    if "x" in files:
        return ["x"]
    numbered = sorted((k for k in files if re.fullmatch(r"x\d+", k)), key=lambda k: int(k[1:]))
    if numbered:
        return numbered
    if input_names and all(name in files for name in input_names):
        return list(input_names)
    return None


def _load_npy(path: Path) -> Dataset:
    try:
        return Dataset(np.load(path, allow_pickle=False), None, str(path))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path} as .npy: {e}", hint="write it with numpy.save") from None


def _checked(ds: Dataset, source: str) -> Dataset:
    for x in ds.inputs:
        _check_array(x, source)
    if len({len(x) for x in ds.inputs}) > 1:
        raise DataError(f"{source}: the input arrays hold different numbers of samples", hint="give one row per sample")
    return ds


def _check_array(x: np.ndarray, source: str) -> None:
    if x.ndim == 0 or len(x) == 0:
        raise DataError(f"{source} holds no samples", hint="x must have the samples along its first axis")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool):
        raise DataError(f"{source}: x has dtype {x.dtype}, not numbers", hint="store numeric arrays")
    if np.issubdtype(x.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1)))
        if bad:
            raise DataError(f"{source}: {bad} sample(s) contain NaN or Inf", hint="clean or drop those samples")


_INDICES_HINT = "labels are class indices 0..K-1 of the model's output, one per sample"


def class_count(output_shapes: list[tuple]) -> int | None:
    """How many classes labels may name, from the model's output shapes (with batch dim): K for
    a single (batch, K) output, 2 for a single sigmoid unit. None when unknown: with several
    outputs the scored one is matched by name only when the models run (validate.compare)."""
    if len(output_shapes) != 1 or len(output_shapes[0]) != 2 or output_shapes[0][1] in (None, -1):
        return None
    return max(2, int(output_shapes[0][1]))


def predicted_classes(scores: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Top-1 class per sample: the argmax of class scores. A single unit is a binary
    classifier's score: class 1 above `threshold` (default 0.5 for probabilities, 0 for logits)."""
    flat = np.asarray(scores).reshape(len(scores), -1)
    if flat.shape[1] != 1:
        return flat.argmax(axis=1)
    if threshold is None:
        threshold = 0.5 if flat.min() >= 0 and flat.max() <= 1 else 0.0
    return (flat[:, 0] > threshold).astype(int)


def checked_labels(ds: Dataset, classes: int | None) -> Dataset:
    """Refuse labels that cannot be right, before any work: a wrong label silently scores 0%
    on both models, and an accuracy budget then passes. Returns y as 1-D int64."""
    if ds.y is None:
        return ds
    y = _label_vector(ds.y, len(ds), ds.source)
    negative = np.flatnonzero(y < 0)
    if negative.size:
        k = negative[0]
        raise DataError(f"{ds.source}: label {y[k]} (sample {k}) is negative", hint=_INDICES_HINT)
    if classes is not None and (beyond := np.flatnonzero(y >= classes)).size:
        k = beyond[0]
        raise DataError(f"{ds.source}: label {y[k]} (sample {k}) is out of range: the model has {classes} classes "
                        f"(0..{classes - 1})", hint="check that the data belongs to this model and its labels count from 0")
    return replace(ds, y=y)


def _label_vector(y: np.ndarray, samples: int, source: str) -> np.ndarray:
    """One whole number per sample; a (n, 1) column is accepted as a vector."""
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating) or y.dtype == bool):
        raise DataError(f"{source}: labels (y) have dtype {y.dtype}, not class indices",
                        hint=f"{_INDICES_HINT}; for class names use a CSV with --label-column or an image folder")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        raise DataError(f"{source}: labels (y) have shape {y.shape}: a row of scores per sample (one-hot?), "
                        "but class indices are expected", hint="convert them with y = y.argmax(axis=1)")
    if y.ndim != 1:
        raise DataError(f"{source}: labels (y) have shape {y.shape}, but one class index per sample is expected",
                        hint=_INDICES_HINT)
    if len(y) != samples:
        raise DataError(f"{source}: x has {samples} samples but y has {len(y)} labels", hint="give one label per sample")
    whole = np.isfinite(y) & (np.round(y) == y) if np.issubdtype(y.dtype, np.floating) else np.ones(len(y), bool)
    if not whole.all():
        k = int(np.argmin(whole))
        raise DataError(f"{source}: label {y[k]} (sample {k}) is not a whole number",
                        hint=f"{_INDICES_HINT}; regression targets are not supported")
    return y.astype(np.int64)


def demo_digits(seed: int = 0) -> tuple[Dataset, Dataset]:
    """scikit-learn's 8x8 digits (shipped with the package: no download), scaled to [0, 1],
    split 80/20 stratified by label. Returns (train, held_back)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return Dataset(x_tr, y_tr, "digits:train"), Dataset(x_te, y_te, "digits:held-back")


def check_fits(ds: Dataset, input_shapes: list[tuple], model: str = "the model") -> None:
    """Fail (before any conversion or inference) when the samples do not fit the model's
    inputs. Shapes include the batch dimension; None or -1 means any size."""
    if len(ds.inputs) != len(input_shapes):
        raise DataError(f"{model} has {len(input_shapes)} inputs but {ds.source} gives {len(ds.inputs)} array(s)",
                        hint="for several inputs store x0, x1, ... in the .npz, in the model's input order")
    for k, (x, shape) in enumerate(zip(ds.inputs, input_shapes)):
        want = tuple(None if d in (None, -1) else d for d in shape[1:])
        got = tuple(x.shape[1:])
        if len(want) != len(got) or any(w is not None and w != g for w, g in zip(want, got)):
            which = f"input {k} of {model}" if len(input_shapes) > 1 else model
            raise DataError(f"data samples have shape {got} but {which} expects {want}", hint=_fit_hint(got, want, ds))


def _fit_hint(got: tuple, want: tuple, ds: Dataset) -> str:
    if got + (1,) == want:
        return f"add the channel axis: x[..., None] gives shape {want}"
    return f"reshape or preprocess {ds.source} so each sample matches the model input"


def calibration_indices(ds: Dataset, count: int, seed: int) -> np.ndarray:
    """Pick `count` samples with a seeded RNG, stratified by label when labels exist, so
    every class is represented in the quantization ranges."""
    n = len(ds)
    if count >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if ds.y is None:
        return np.sort(rng.choice(n, size=count, replace=False))
    classes, counts = np.unique(ds.y, return_counts=True)
    quota = np.maximum(1, np.floor(counts / n * count)).astype(int)
    picked = [rng.choice(np.flatnonzero(ds.y == c), size=min(q, k), replace=False)
              for c, q, k in zip(classes, quota, counts)]
    chosen = np.concatenate(picked)
    rest = np.setdiff1d(np.arange(n), chosen)
    extra = rng.choice(rest, size=max(0, count - len(chosen)), replace=False)
    return np.sort(np.concatenate([chosen, extra])[:count])


def in_order(items: list, have: list[str] | None, want: list[str] | None) -> list:
    """`items`, listed in the order of the names `have`, rearranged into the order of `want`
    when both name the same inputs. A converted model may order a multi-input model's inputs
    differently from Keras (seen: [vector, image] for Keras' [image, vector]); data stays in
    the Keras order and is matched to each model by input name."""
    if have and want and list(have) != list(want) and sorted(have) == sorted(want):
        return [items[list(have).index(name)] for name in want]
    return list(items)
