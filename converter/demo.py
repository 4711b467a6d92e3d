"""The built-in demo: train a small CNN on scikit-learn's 8x8 digits, convert it to full int8,
validate it against the float model on held-back digits, and write a report."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import keras_env
from .inputs.data import demo_digits
from .export.tflite import ConvertOptions
from .inputs.models import save_model
from .outputs import atomic_dir
from .report.budgets import Budgets
from .pipeline.steps import convert_stage, layer_error_stage, validate_stage
from .verify.figures import arena_line, measure_stage
from .report import Report
from .report.files import write_report
from .targets.host import HostRuntime
from .targets.keras import KerasSession


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
    model.fit(train.x, train.y, epochs=epochs, batch_size=32, verbose=verbose, shuffle=True)
    return model


def run_demo(opts: DemoOptions, progress=print) -> Report:
    started = time.perf_counter()
    report = Report("edgeconv demo: digits CNN, float vs full int8")
    with atomic_dir(opts.out, force=opts.force) as tmp:
        train, held_back = demo_digits(opts.seed)
        progress(f"training a small CNN on {len(train)} digits ({opts.epochs} epochs, seed {opts.seed})")
        model = train_cnn(train, opts.seed, opts.epochs)
        save_model(model, tmp / "model.keras")
        report.add("model", name=model.name, parameters=int(model.count_params()),
                   input_shape=list(model.input_shape[1:]), train_samples=len(train), seed=opts.seed)

        progress(f"converting to full int8 with {opts.samples} representative samples")
        int8 = convert_stage(model, train, ConvertOptions(samples=opts.samples, seed=opts.seed), report)
        float_tflite = convert_stage(model, None, ConvertOptions(mode="float32"), Report("scratch")).tflite
        (tmp / "model_int8.tflite").write_bytes(int8.tflite)
        (tmp / "model_float.tflite").write_bytes(float_tflite)

        progress(f"validating int8 on host LiteRT against the float model on {len(held_back)} held-back digits")
        validate_stage(KerasSession(model), HostRuntime().open(int8.tflite), held_back, report)
        layer_error_stage(model, train, held_back, ConvertOptions(samples=opts.samples, seed=opts.seed), report)
        kind = measure_stage(int8.tflite, report)  # filed as "int8", the float model as "float32"
        measure_stage(float_tflite, report)
        report.add("size", float_over_int8=round(len(float_tflite) / len(int8.tflite), 2))
        Budgets(max_accuracy_drop=1.0).apply(report, kind)
        report.add("run", seconds=round(time.perf_counter() - started, 1))
        write_report(tmp, report)
    return report


def summary_rows(report: Report) -> list[tuple[str, str]]:
    v, ratio = report.sections["validation"], report.sections["size"]["float_over_int8"]
    size8, size32 = report.model_figures("size", "int8"), report.model_figures("size", "float32")
    lat8, lat32 = report.model_figures("latency", "int8"), report.model_figures("latency", "float32")
    return [
        ("accuracy float / int8", f"{v['reference_accuracy'] * 100:.2f}% / {v['candidate_accuracy'] * 100:.2f}%"),
        ("agreement", f"{v['agreement'] * 100:.2f}% of {v['samples']} held-back digits"),
        ("size float / int8", f"{size32['bytes']:,} B / {size8['bytes']:,} B ({ratio}x)"),
        ("latency int8 p50 / p90 (host)", f"{lat8['p50_ms'] * 1e3:.1f} / {lat8['p90_ms'] * 1e3:.1f} µs"),
        ("latency float p50 / p90 (host)",
         f"{lat32['p50_ms'] * 1e3:.1f} / {lat32['p90_ms'] * 1e3:.1f} µs"),
        ("tensor arena int8", arena_line(report, "int8")),
        ("checks", report.checks_summary()),
    ]
