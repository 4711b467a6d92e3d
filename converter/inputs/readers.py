"""Readers for image folders and CSV files -> raw arrays (before the numeric preprocessing)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import DataError
from .preprocess import Preprocess

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def read_image_folder(root: Path, spec: Preprocess, size: tuple[int, int] | None, channels: int | None):
    """One subfolder per class (labels = sorted folder names), or images directly in `root`
    (unlabelled). Returns (x uint8 NHWC, y or None, class names or None)."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes:
        files = [(f, k) for k, c in enumerate(classes) for f in _images(root / c)]
    else:
        files = [(f, -1) for f in _images(root)]
    if not files:
        raise DataError(f"no PNG or JPEG images in {root}",
                        hint="put images in one subfolder per class (e.g. data/cat/*.png, data/dog/*.png)")
    size = spec.resize or size
    if size is None:
        raise DataError("the image size is unknown", hint="pass --resize HxW")
    gray = spec.grayscale or channels == 1
    if gray and spec.channel_order == "bgr":
        raise DataError("--bgr reorders colour channels, but these images are read with 1 channel (grayscale)",
                        hint="drop --bgr (or --grayscale for a 3-channel model)")
    x = np.stack([_read_image(f, size, gray, spec.channel_order) for f, _ in files])
    y = np.array([k for _, k in files]) if classes else None
    return x, y, tuple(classes) or None


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _read_image(path: Path, size: tuple[int, int], gray: bool, order: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L" if gray else "RGB").resize((size[1], size[0]), Image.BILINEAR)
            a = np.asarray(im)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"cannot read image {path}: {e}", hint="remove or replace the file") from None
    if gray:
        return a[..., None]
    return a[..., ::-1] if order == "bgr" else a


def read_csv(path: Path, label_column: str | None):
    """Numeric feature columns, plus an optional label column (numbers, or names mapped to
    indices in sorted order). Returns (x float32, y or None, class names or None)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise DataError(f"{path} has no data rows", hint="the first row names the columns, one sample per row")
    header, body = rows[0], rows[1:]
    if label_column is not None and label_column not in header:
        raise DataError(f"label column '{label_column}' is not in {path} (columns: {', '.join(header)})",
                        hint="pass --label-column with one of the column names")
    li = header.index(label_column) if label_column is not None else None
    features = [i for i in range(len(header)) if i != li]
    x = np.array([[_number(r, i, n + 2, header, path) for i in features] for n, r in enumerate(body)], np.float32)
    if li is None:
        return x, None, None
    labels = [r[li] for r in body]
    try:
        return x, np.array([int(v) for v in labels]), None
    except ValueError:
        classes = tuple(sorted(set(labels)))
        return x, np.array([classes.index(v) for v in labels]), classes


def _number(row: list[str], i: int, line: int, header: list[str], path: Path) -> float:
    try:
        return float(row[i])
    except (ValueError, IndexError):
        value = row[i] if i < len(row) else "(missing)"
        raise DataError(f"{path} line {line}, column '{header[i]}': '{value}' is not a number",
                        hint="tabular data must be numeric; name the label column with --label-column") from None
