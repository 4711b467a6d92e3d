"""One session chain of real artifacts that tests share: a tiny CNN trained on the digits,
saved as .keras, converted to float and int8 .tflite, plus data files and an invalid file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass(frozen=True)
class Chain:
    keras_path: Path
    float_tflite: Path
    int8_tflite: Path
    train_npz: Path
    test_npz: Path
    invalid: Path
    model: object


@pytest.fixture(scope="session")
def digits():
    from converter.inputs.data import demo_digits

    return demo_digits(seed=0)


@pytest.fixture(scope="session")
def chain(tmp_path_factory, digits) -> Chain:
    from converter.demo import train_cnn
    from converter.export.tflite import ConvertOptions, convert
    from converter.inputs.models import save_model

    root = tmp_path_factory.mktemp("chain")
    train, test = digits
    model = train_cnn(train, seed=0, epochs=6, width=4)
    save_model(model, root / "model.keras")
    (root / "model_float.tflite").write_bytes(convert(model, None, ConvertOptions(mode="float32")).tflite)
    (root / "model_int8.tflite").write_bytes(convert(model, train, ConvertOptions(samples=100)).tflite)
    np.savez(root / "train.npz", x=train.x, y=train.y)
    np.savez(root / "test.npz", x=test.x, y=test.y)
    (root / "invalid.keras").write_bytes(b"this is not a model\n" * 10)
    return Chain(root / "model.keras", root / "model_float.tflite", root / "model_int8.tflite",
                 root / "train.npz", root / "test.npz", root / "invalid.keras", model)


@pytest.fixture(scope="session")
def digit_pngs(tmp_path_factory, digits):
    """200 training digits as 8-bit grayscale PNGs, one folder per class (an image dataset)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("digit_pngs")
    train, _ = digits
    for k in range(200):
        folder = root / str(train.y[k])
        folder.mkdir(exist_ok=True)
        Image.fromarray((train.x[k, :, :, 0] * 255).round().astype(np.uint8), "L").save(folder / f"{k}.png")
    return root
