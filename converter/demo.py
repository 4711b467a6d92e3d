"""The built-in demo: train a small CNN on scikit-learn's 8x8 digits, convert it to full int8,
validate it against the float model on held-back digits, and write a report."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import keras_env
from .report import Report


@dataclass(frozen=True)
class DemoOptions:
    out: Path = Path("out/demo")
    seed: int = 0
    epochs: int = 30
    samples: int = 200
    force: bool = False


def build_cnn(input_shape=(8, 8, 1), classes: int = 10, width: int = 16):
    keras = keras_env.keras()
    return keras.Sequential([
        keras.Input(shape=input_shape, name="image"),
        keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(4 * width, activation="relu", name="dense"),
        keras.layers.Dense(classes, activation="softmax", name="probs"),
    ], name="digits_cnn")


def train_cnn(train, seed: int, epochs: int, width: int = 16, verbose: int = 0):
    keras_env.seed_everything(seed)
    model = build_cnn(train.x.shape[1:], width=width)
    model.compile(optimizer=keras_env.keras().optimizers.Adam(2e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    from .optimize.train import TrainOptions, progress_callbacks

    bar = progress_callbacks(train, TrainOptions(epochs=epochs, batch_size=32, validation_split=0, verbose=verbose))
    model.fit(train.x, train.y, epochs=epochs, batch_size=32, verbose=verbose, shuffle=True, callbacks=bar)
    return model


def run_demo(opts: DemoOptions, progress=print) -> Report:
    """The bundled `demo` recipe (recipes/demo.yaml) with the demo's seed and epochs."""
    from .pipeline.recipe import load_recipe
    from .pipeline.runner import run_recipe

    recipe = load_recipe("demo", [f"seed={opts.seed}", f"demo_epochs={opts.epochs}"])
    return run_recipe(recipe, opts.out, opts.force, progress, title="edgeconv demo: digits CNN, float vs full int8")
