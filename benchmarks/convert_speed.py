"""Conversion time: edgeconv's convert() vs a plain TFLiteConverter script on the same model,
data and samples (goal: at most 1.15x). Models: the demo CNN, MobileNetV2 and EfficientNetB0
built with weights=None (nothing is downloaded).

    python benchmarks/convert_speed.py [--repeats 3] [--samples 100] [--models demo,mobilenetv2]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import median_seconds, print_table, write_json  # noqa: E402
from converter import keras_env  # noqa: E402
from converter.inputs.data import Dataset, demo_digits  # noqa: E402
from converter.export.tflite import ConvertOptions, convert  # noqa: E402


def build(name: str):
    keras = keras_env.keras()
    if name == "demo":
        from converter.demo import train_cnn

        train, _ = demo_digits(0)
        return train_cnn(train, seed=0, epochs=3), train
    app = {"mobilenetv2": keras.applications.MobileNetV2, "efficientnetb0": keras.applications.EfficientNetB0}[name]
    model = app(weights=None, input_shape=(224, 224, 3))
    x = np.random.default_rng(0).random((256, 224, 224, 3), dtype=np.float32)
    return model, Dataset(x, None, "random")


def plain_converter(model, data: Dataset, samples: int) -> bytes:
    """What a user would write by hand, following the TFLite documentation."""
    tf = keras_env.tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([data.x[i:i + 1]] for i in range(samples))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="demo,mobilenetv2,efficientnetb0")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--out", default="out/bench/convert.json")
    args = p.parse_args(argv)
    rows, results = [], {}
    for name in args.models.split(","):
        model, data = build(name)
        plain, plain_runs = median_seconds(lambda: plain_converter(model, data, args.samples), args.repeats)
        ours, our_runs = median_seconds(lambda: convert(model, data, ConvertOptions(samples=args.samples)),
                                        args.repeats)
        results[name] = {"plain_s": plain, "edgeconv_s": ours, "ratio": ours / plain,
                         "plain_runs": plain_runs, "edgeconv_runs": our_runs, "samples": args.samples}
        rows.append([name, f"{plain:.2f}", f"{ours:.2f}", f"{ours / plain:.2f}x",
                     "met" if ours / plain <= 1.15 else "NOT met"])
        keras_env.clear_session()
    print_table("conversion time (median of repeats, seconds)",
                ["model", "plain TFLiteConverter", "edgeconv convert", "ratio", "goal <= 1.15x"], rows)
    write_json(args.out, {"conversion": results})
    return results


if __name__ == "__main__":
    main()
