"""Keyword spotting: the MLPerf Tiny KWS model (DS-CNN, 64 filters, full size) on 49 x 10 MFCCs
of one-second clips from the synthesised Speech-Commands-like set (benchmarks/tasks/speech.py),
12 classes: ten keywords, silence and unknown."""
from __future__ import annotations

from converter import keras_env
from converter.inputs.audio import AudioFeatures

from . import Recipe, Task, split
from .speech import CLASSES, missing_tools, speech_commands

FEATURES = AudioFeatures()  # 30 ms frames every 20 ms, 40 mel bins 20-4000 Hz, 10 MFCC
PER_CLASS, QUICK_PER_CLASS = 100, 6


def kws_data(seed: int, quick: bool = False):
    """(train, test) of MFCC images [n, 49, 10, 1]; a quarter of each class is held back."""
    audio, labels = speech_commands(seed, QUICK_PER_CLASS if quick else PER_CLASS)
    features = FEATURES.apply(audio)[..., None]
    return split(features, labels, CLASSES, 0.25, seed, "synthesised speech commands")


def ds_cnn(input_shape: tuple, classes: int, filters: int = 64):
    """MLPerf Tiny's DS-CNN: a 10x4 stride-2 conv, four depthwise-separable blocks (3x3 depthwise,
    1x1 pointwise, each with BatchNorm + ReLU), average pooling and a softmax layer."""
    keras = keras_env.keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="mfcc")
    x = layers.Conv2D(filters, (10, 4), strides=(2, 2), padding="same", use_bias=False, name="conv")(inputs)
    x = layers.ReLU(name="conv_relu")(layers.BatchNormalization(name="conv_bn")(x))
    x = layers.Dropout(0.2)(x)
    for block in range(1, 5):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{block}")(x)
        x = layers.ReLU(name=f"dw{block}_relu")(layers.BatchNormalization(name=f"dw{block}_bn")(x))
        x = layers.Conv2D(filters, 1, use_bias=False, name=f"pw{block}")(x)
        x = layers.ReLU(name=f"pw{block}_relu")(layers.BatchNormalization(name=f"pw{block}_bn")(x))
    x = layers.Dropout(0.4)(x)
    x = layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax", name="probs")(x), name="ds_cnn")


KWS_TASK = Task(
    name="kws",
    description=f"keyword spotting: DS-CNN (MLPerf Tiny) on 49x10 MFCC, {len(CLASSES)} classes, "
                f"{PER_CLASS} espeak-ng clips per class",
    data=kws_data, model=ds_cnn,
    # after halving the MACs, the float model's own schedule on the labels: seeds 0-1 measured
    # -0.17 points against PTQ int8; distilled, -2.08 (30 epochs) and -3.17 (15 epochs at 1e-3)
    recipe=Recipe(epochs=30, batch_size=32, learning_rate=3e-3, qat_epochs=5, qat_learning_rate=3e-4,
                  prune_epochs=30, prune_learning_rate=3e-3, prune_distill=False),
    quick_recipe=Recipe(epochs=1, qat_epochs=1),
    missing=missing_tools)
