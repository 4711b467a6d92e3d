"""The conformance corpus: the models users bring, built offline (keras.applications with
weights=None, small inputs, 10 classes) plus hand-built edge cases, each saved the way its
author would save it, next to the .npz data the CLI takes.

    python -m benchmarks.conformance.corpus OUT_DIR [NAME ...]   # builds what is missing

Each model gets OUT_DIR/NAME/ with the model file, data.npz (x or x0, x1; integer labels y
where the model is a classifier) and model.json (file, --import, extra training options).
tf_keras models are built here (TF_USE_LEGACY_KERAS=1, via converter.keras_env); the Keras 3
model is built by `keras3_build.py` in a process with TF_USE_LEGACY_KERAS=0.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLES = 32
CLASSES = 10


@dataclass(frozen=True)
class Spec:
    name: str
    file: str                      # the model file or folder inside the model's directory
    inputs: tuple                  # one shape per input (without batch)
    kind: str = "image"            # image | sequence | flat: the distillation template to use
    labels: bool = True            # a classifier with integer labels
    imports: tuple = ()            # files passed with --import (relative to this package)
    train_args: tuple = ()         # extra options a user of this model would give the training commands
    pixels: bool = False           # raw 0..255 data (the model rescales itself)
    train_samples: int = 0         # >0: the training steps take the first N samples (train.npz)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


# name -> (keras.applications function, input size, keyword arguments)
APPLICATIONS = {
    "mobilenet_v1_a0.25": ("MobileNet", 32, {"alpha": 0.25}),
    "mobilenet_v2_a0.35": ("MobileNetV2", 32, {"alpha": 0.35}),
    "mobilenet_v3small_a0.75": ("MobileNetV3Small", 32, {"alpha": 0.75}),
    "mobilenet_v3large_a0.75": ("MobileNetV3Large", 32, {"alpha": 0.75}),
    "efficientnet_b0": ("EfficientNetB0", 32, {}),
    "efficientnet_v2b0": ("EfficientNetV2B0", 32, {}),
    "resnet50": ("ResNet50", 32, {}),
    "resnet50v2": ("ResNet50V2", 32, {}),
    "densenet121": ("DenseNet121", 32, {}),
    "xception": ("Xception", 71, {}),
    "inception_v3": ("InceptionV3", 75, {}),
    "nasnet_mobile": ("NASNetMobile", 32, {}),
    "convnext_tiny": ("ConvNeXtTiny", 32, {}),
    "regnetx002": ("RegNetX002", 32, {}),
    "vgg16": ("VGG16", 32, {}),
}

CUSTOM = {s.name: s for s in [
    Spec("custom_layer", "model.keras", ((16, 16, 3),), imports=("layers_tfk.py",),
         note="registered custom layer, loaded with --import"),
    Spec("plain_savedmodel", "saved_model", ((16, 16, 3),),
         note="tf.Module saved with tf.saved_model.save (serving signature, no Keras)"),
    Spec("keras3_custom", "model.keras", ((16, 16, 3),), imports=("layers_k3.py",),
         note="Keras 3 .keras file with a registered custom layer"),
    Spec("nested", "model.keras", ((16, 16, 3),), note="a Functional model used as a layer"),
    Spec("subclassed", "model.keras", ((16, 16, 3),), imports=("layers_tfk.py",),
         note="subclassed keras.Model (registered)"),
    Spec("multi_io", "model.keras", ((16, 16, 3), (8,)), note="two inputs, two outputs"),
    Spec("lstm_gru", "model.keras", ((16, 8),), kind="sequence", note="LSTM then GRU"),
    Spec("conv1d_audio", "model.keras", ((256, 1),), kind="sequence", note="Conv1D keyword-spotting style"),
    Spec("stateful_stream", "model.keras", ((4, 16),), kind="sequence", train_args=("--batch-size", "1"),
         note="stateful GRU, batch 1 (state in variables)"),
    Spec("preprocessing", "model.keras", ((32, 32, 3),), pixels=True,
         note="Rescaling + adapted Normalization layers, raw 0..255 pixels"),
    Spec("segmentation", "model.keras", ((32, 32, 3),), labels=False,
         note="UpSampling2D + Conv2DTranspose head, per-pixel output (no per-sample labels)"),
]}


# Families whose training graph (QAT above all) takes minutes per batch on 2 cores: their training
# steps take 8 samples (one batch). Their inputs are already each family's minimum (Xception 71,
# InceptionV3 75, the others 32: keras.applications refuses smaller).
SMALL_TRAINING = {"densenet121", "xception", "inception_v3", "nasnet_mobile", "convnext_tiny", "regnetx002", "vgg16"}
TRAIN_SAMPLES = 8


def specs() -> dict[str, Spec]:
    apps = {name: Spec(name, "model.keras", ((size, size, 3),), note=f"keras.applications.{fn}(weights=None, "
                       + "".join(f"{k}={v}, " for k, v in kw.items()) + f"{size}x{size})",
                       train_samples=TRAIN_SAMPLES if name in SMALL_TRAINING else 0)
            for name, (fn, size, kw) in APPLICATIONS.items()}
    return {**apps, **CUSTOM}


# ---- building -------------------------------------------------------------------------------

def _application(keras, fn, size, kwargs):
    return getattr(keras.applications, fn)(input_shape=(size, size, 3), weights=None, classes=CLASSES, **kwargs)


def _custom_layer(keras):
    sys.path.insert(0, str(HERE))
    import layers_tfk

    i = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(i)
    x = layers_tfk.ChannelGain(0.5, name="gain")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(CLASSES, activation="softmax")(x))


def _subclassed(keras):
    sys.path.insert(0, str(HERE))
    import layers_tfk

    model = layers_tfk.TinyNet(CLASSES)
    model(np.zeros((1, 16, 16, 3), np.float32))
    return model


def _nested(keras):
    bi = keras.Input((16, 16, 8))
    b = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(bi)
    b = keras.layers.BatchNormalization()(b)
    block = keras.Model(bi, keras.layers.Add()([bi, b]), name="residual_block")
    i = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
    x = block(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(i, keras.layers.Dense(CLASSES, activation="softmax")(x))


def _multi_io(keras):
    image, vector = keras.Input((16, 16, 3), name="image"), keras.Input((8,), name="vector")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(image))
    v = keras.layers.Dense(8, activation="relu")(vector)
    x = keras.layers.Concatenate()([x, v])
    return keras.Model([image, vector], [keras.layers.Dense(CLASSES, activation="softmax", name="label")(x),
                                         keras.layers.Dense(3, activation="softmax", name="aux")(x)])


def _lstm_gru(keras):
    i = keras.Input((16, 8))
    x = keras.layers.LSTM(16, return_sequences=True)(i)
    x = keras.layers.GRU(16)(x)
    return keras.Model(i, keras.layers.Dense(CLASSES, activation="softmax")(x))


def _conv1d_audio(keras):
    i = keras.Input((256, 1))
    x = keras.layers.Conv1D(8, 9, strides=2, activation="relu")(i)
    x = keras.layers.MaxPooling1D(2)(x)
    x = keras.layers.Conv1D(16, 5, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(i, keras.layers.Dense(CLASSES, activation="softmax")(x))


def _stateful_stream(keras):
    i = keras.Input(batch_shape=(1, 4, 16))
    x = keras.layers.GRU(16, stateful=True, name="gru")(i)  # named: the refusal names it
    return keras.Model(i, keras.layers.Dense(CLASSES, activation="softmax")(x))


def _preprocessing(keras, x):
    norm = keras.layers.Normalization()
    norm.adapt(x / 255.0)
    i = keras.Input((32, 32, 3))
    y = norm(keras.layers.Rescaling(1 / 255)(i))
    y = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    return keras.Model(i, keras.layers.Dense(CLASSES, activation="softmax")(y))


def _segmentation(keras):
    i = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(i)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.UpSampling2D(2)(x)
    return keras.Model(i, keras.layers.Conv2D(4, 1, activation="softmax")(x))


def _plain_savedmodel(tf, path: Path):
    class Classifier(tf.Module):
        def __init__(self):
            self.kernel = tf.Variable(tf.random.stateless_normal((3, 3, 3, 8), seed=(1, 2)) * 0.3, name="kernel")
            self.w = tf.Variable(tf.random.stateless_normal((8, CLASSES), seed=(3, 4)) * 0.3, name="w")
            self.b = tf.Variable(tf.linspace(-0.5, 0.5, CLASSES), name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 16, 16, 3], tf.float32, name="image")])
        def __call__(self, x):
            h = tf.nn.relu(tf.nn.conv2d(x, self.kernel, 1, "SAME"))
            return {"scores": tf.nn.softmax(tf.reduce_mean(h, axis=(1, 2)) @ self.w + self.b)}

    module = Classifier()
    tf.saved_model.save(module, str(path), signatures=module.__call__)


def data_for(spec: Spec, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(0, 255 if spec.pixels else 1, (SAMPLES, *shape)).astype(np.float32) for shape in spec.inputs]
    arrays = {"x": xs[0]} if len(xs) == 1 else {f"x{k}": x for k, x in enumerate(xs)}
    if spec.labels:
        arrays["y"] = np.arange(SAMPLES) % CLASSES  # every class present: calibration stratifies by label
    return arrays


def build_one(name: str, folder: Path) -> None:
    from converter import keras_env

    spec = specs()[name]
    folder.mkdir(parents=True, exist_ok=True)
    data = data_for(spec)
    keras, tf = keras_env.keras(), keras_env.tf()
    keras.utils.set_random_seed(0)
    if name in APPLICATIONS:
        model = _application(keras, *APPLICATIONS[name])
    elif name == "plain_savedmodel":
        _plain_savedmodel(tf, folder / spec.file)
        model = None
    elif name == "keras3_custom":
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "0", "PYTHONPATH": str(HERE)}
        subprocess.run([sys.executable, str(HERE / "keras3_build.py"), str(folder / spec.file)], env=env, check=True)
        model = None
    elif name == "preprocessing":
        model = _preprocessing(keras, data["x"])
    else:
        model = globals()[f"_{name}"](keras)
    if model is not None:
        model.save(folder / spec.file)
    np.savez(folder / "data.npz", **data)
    if spec.train_samples:  # labels 0..N-1: every one a class the model has
        np.savez(folder / "train.npz", **{k: v[:spec.train_samples] for k, v in data.items()})
    (folder / "model.json").write_text(json.dumps(spec.to_dict(), indent=1))


def build(root: Path, names: list[str] | None = None) -> dict[str, float]:
    """Builds, each in its own process (so one model's graph does not slow the next), the
    models whose folder is missing or was built from another Spec; returns their seconds."""
    seconds = {}
    for name in names or list(specs()):
        if built(root / name, specs()[name]):
            continue
        print(f"building {name}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "benchmarks.conformance.corpus", "--one", name, str(root / name)],
                       check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        seconds[name] = time.perf_counter() - t0
    return seconds


def built(folder: Path, spec: Spec) -> bool:
    path = folder / "model.json"
    return path.exists() and json.loads(path.read_text()) == json.loads(json.dumps(spec.to_dict()))


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        build_one(sys.argv[2], Path(sys.argv[3]))
    else:
        build(Path(sys.argv[1]), sys.argv[2:] or None)
