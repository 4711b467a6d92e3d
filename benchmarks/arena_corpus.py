"""The arena corpus: small real models converted to integer TFLite, each run in tflite-micro to
compare our arena estimate (head + tail, from the flatbuffer alone) with what TFLM allocates.

    python benchmarks/arena_corpus.py     # prints the table
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from converter import keras_env  # noqa: E402
from converter.inputs.data import Dataset  # noqa: E402
from converter.export.tflite import ConvertOptions, convert  # noqa: E402


def _keras_models() -> list[tuple[object, str]]:
    keras = keras_env.keras()
    L = keras.layers
    i = keras.Input((16, 16, 3))
    conv = keras.Model(i, L.Dense(4)(L.Flatten()(L.Conv2D(16, 3, strides=2)(L.Conv2D(8, 3, activation="relu")(i)))),
                       name="conv")
    x = L.Conv2D(8, 1, activation="relu")(i)
    y = L.Conv2D(8, 1)(L.DepthwiseConv2D(3, padding="same", activation="relu")(x))
    residual = keras.Model(i, L.Dense(4)(L.GlobalAveragePooling2D()(L.Add()([x, y]))), name="depthwise_residual")
    p = L.MaxPooling2D()(L.Conv2D(8, 3, padding="same", activation="relu")(i))
    pooling = keras.Model(i, L.Softmax()(L.Dense(5)(L.Flatten()(L.AveragePooling2D()(p)))), name="pooling_softmax")
    d = keras.Input((32,))
    dense = keras.Model(d, L.Dense(4)(L.Dense(64, activation="relu")(L.Dense(128)(d))), name="dense")
    s = keras.Input((8, 6), batch_size=1)
    rnn = keras.Model(s, L.Dense(3)(L.SimpleRNN(12, unroll=True)(s)), name="rnn_unrolled")
    # Untrained logits have a huge range: tflite-micro's int8 Softmax then aborts in Prepare, so
    # these end at the logits (classifier_activation=None).
    mobilenet = keras.applications.MobileNet((32, 32, 3), alpha=0.25, weights=None, classes=10,
                                             classifier_activation=None)
    mobilenet_v2 = keras.applications.MobileNetV2((32, 32, 3), alpha=0.35, weights=None, classes=10,
                                                  classifier_activation=None)
    return [(conv, "int8"), (residual, "int8"), (pooling, "int8"), (dense, "int8"), (rnn, "int8"),
            (mobilenet, "int8"), (mobilenet_v2, "int8"), (residual, "int16x8"), (dense, "int16x8")]


def _calibration(shape, n: int = 8) -> np.ndarray:
    return np.random.default_rng(0).random((n, *shape), dtype=np.float32)


def _streaming_model() -> bytes:
    """A keyword-spotting-style stateful model: a ring of past frames in a tf.Variable, read and
    assigned each call. The converter emits VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE and a
    CALL_ONCE that runs the variables' init subgraph (a second subgraph)."""
    tf = keras_env.tf()

    class Streaming(tf.Module):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.frames = tf.Variable(tf.zeros([1, 8, 16]))
            self.w = tf.constant(rng.normal(size=(8 * 16, 12)).astype(np.float32) * 0.1)
            self.v = tf.constant(rng.normal(size=(12, 4)).astype(np.float32) * 0.1)

        @tf.function(input_signature=[tf.TensorSpec([1, 1, 16], tf.float32)])
        def __call__(self, frame):
            frames = tf.concat([self.frames[:, 1:, :], frame], axis=1)
            self.frames.assign(frames)
            hidden = tf.nn.relu(tf.matmul(tf.reshape(frames, [1, -1]), self.w))
            return tf.nn.softmax(tf.matmul(hidden, self.v))

    module = Streaming()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()], module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in _calibration((1, 16), 32))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def build() -> dict[str, bytes]:
    """name -> .tflite bytes (int8 unless the name says int16x8)."""
    out = {}
    for model, mode in _keras_models():
        name = model.name + ("" if mode == "int8" else f"_{mode}")
        data = Dataset(_calibration(model.inputs[0].shape[1:]), None, "random")
        out[name] = convert(model, data, ConvertOptions(mode=mode, samples=8)).tflite
    out["streaming_variables"] = _streaming_model()
    return out


def compare(models: dict[str, bytes]) -> list[dict]:
    """Estimate (64-bit, 32-bit) vs tflite-micro's measured total for each model."""
    from converter.targets.micro import measure_arena
    from converter.tflite.arena import estimates
    from converter.tflite.reader import read_model

    rows = []
    for name, model in models.items():
        info = read_model(model)
        est = estimates(info)
        measured, why = measure_arena(model)
        if measured is None:
            raise RuntimeError(f"{name}: {why}")
        e64, total = est["64"].total, measured["total_bytes"]
        rows.append({"model": name, "ops": sum(len(sg.operators) for sg in info.subgraphs),
                     "subgraphs": len(info.subgraphs), "estimate_64_bytes": e64, "estimate_32_bytes": est["32"].total,
                     "measured_bytes": total, "measured_head_bytes": measured["head_bytes"],
                     "estimate_head_bytes": est["64"].head, "error": (e64 - total) / total})
    return rows


def run() -> dict:
    rows = compare(build())
    worst = max(abs(r["error"]) for r in rows)
    return {"rows": rows, "worst_error": worst, "never_below": all(r["error"] >= 0 for r in rows)}


def table(rows: list[dict]) -> list[list[str]]:
    return [[r["model"], f"{r['estimate_64_bytes']:,}", f"{r['estimate_32_bytes']:,}", f"{r['measured_bytes']:,}",
             f"{r['error'] * 100:+.1f}%"] for r in rows]


if __name__ == "__main__":
    from benchmarks.common import print_table

    result = run()
    print_table("tensor arena: estimate vs tflite-micro", ["model", "estimate 64-bit", "estimate 32-bit",
                                                           "measured (64-bit host)", "error"], table(result["rows"]))
