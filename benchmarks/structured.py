"""Structured (channel) pruning: what it buys on the device and which importance to default to.

1. Device figures: MobileNetV2 alpha=0.35 (32x32 and 96x96, keras.applications, weights=None)
   and ResNet-8 (MLPerf Tiny shape), pruned to about half the MACs, both int8: parameters, MACs,
   .tflite bytes, arena and int8 host latency before and after. Untrained weights: latency,
   size and arena do not depend on the weight values.
   The DS-CNN KWS (MLPerf Tiny, 64 filters) as uniformly narrower DS-CNNs too: how size and
   latency follow the MACs when every layer keeps the same width (the ceiling at half the MACs).
2. Importance: a small residual BN CNN trained on the 8x8 digits (3 seeds); held-back accuracy
   right after removing 12.5% and 25% of every group's channels by each importance (how well
   it ranks channels), without and with the bias compensation (channel_compensation.py), and
   after removing 50% and a 3-epoch fine-tune (compensated, as prune_channels does).

    python benchmarks/structured.py [--out out/bench/structured.json] [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import print_table, write_json  # noqa: E402
from converter import keras_env  # noqa: E402
from converter.inputs.data import Dataset, demo_digits  # noqa: E402
from converter.optimize.channel_figures import int8_before_after  # noqa: E402
from converter.optimize.importance import METHODS  # noqa: E402
from converter.optimize.channel_compensation import compensate  # noqa: E402
from converter.optimize.channel_surgery import rebuild  # noqa: E402
from converter.optimize.structured import ChannelOptions, plan_channels, prune_channels  # noqa: E402
from converter.optimize.train import TrainOptions, compile_for_labels, fit  # noqa: E402
from benchmarks.tasks.kws import ds_cnn  # noqa: E402

KWS_INPUT, KWS_CLASSES = (49, 10, 1), 12
UNIFORM_WIDTHS = (48, 40, 32)  # DS-CNN filters, against the full model's 64


def resnet8(input_shape=(32, 32, 3), classes=10, widths=(16, 32, 64)):
    """The MLPerf Tiny image-classification ResNet-8 shape."""
    keras = keras_env.keras()
    layers = keras.layers

    def conv_bn(x, filters, kernel=3, strides=1, relu=True):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x) if relu else x

    inp = keras.Input(input_shape)
    x = conv_bn(inp, widths[0])
    for i, filters in enumerate(widths):
        strides = 1 if i == 0 else 2
        y = conv_bn(conv_bn(x, filters, strides=strides), filters, relu=False)
        shortcut = x if strides == 1 and x.shape[-1] == filters else conv_bn(x, filters, 1, strides, relu=False)
        x = layers.ReLU()(layers.Add()([y, shortcut]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(classes)(x), name="resnet8")


def mobilenet_v2(size: int = 32):
    return keras_env.keras().applications.MobileNetV2(input_shape=(size, size, 3), alpha=0.35, weights=None,
                                                      classes=10, classifier_activation=None)


def _random_data(model) -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(x=rng.uniform(-1, 1, (100, *model.input_shape[1:])).astype(np.float32),
                   y=rng.integers(0, 10, 100), source="random")


def device_figures(name: str, model, runs: int) -> dict:
    data = _random_data(model)
    result = prune_channels(model, data, ChannelOptions(target_macs=0.5, importance="l2", train=None))
    total = result.summary()["total"]
    figures = int8_before_after(model, result.model, data, runs=runs)
    return {"model": name, "ratio": result.plan.ratio, **total, **figures}


def uniform_widths(runs: int) -> list[dict]:
    """The 64-filter DS-CNN against uniformly narrower ones: MACs, size and latency ratios."""
    full = ds_cnn(KWS_INPUT, KWS_CLASSES)
    data = _random_data(full)
    out = []
    for width in UNIFORM_WIDTHS:
        figures = int8_before_after(full, ds_cnn(KWS_INPUT, KWS_CLASSES, filters=width), data, runs=runs)
        out.append({"model": f"DS-CNN KWS 64 -> {width} filters (uniform)", "ratio": 1 - width / 64,
                    "params_before": int(full.count_params()),
                    "params_after": int(ds_cnn(KWS_INPUT, KWS_CLASSES, filters=width).count_params()), **figures})
    return out


SURGERY_RATIOS = (0.125, 0.25)
TUNED_RATIO = 0.5


def importance_comparison(seeds: tuple[int, ...], epochs: int, tune_epochs: int) -> dict:
    """Held-back accuracy per importance: right after removing 12.5% and 25% of every group's
    channels (how well the score ranks them), and after removing 50% and a short fine-tune."""
    train, test = demo_digits(0)
    rows: dict[str, dict[str, list]] = {}
    for seed in seeds:
        keras_env.seed_everything(seed)
        model = resnet8((8, 8, 1), 10, (32, 64, 64))
        options = TrainOptions(epochs=epochs, learning_rate=3e-3, seed=seed, patience=0, validation_split=0.0)
        compile_for_labels(model, options, probabilities=False)
        fit(model, train, options)
        rows.setdefault("unpruned", {}).setdefault("accuracy", []).append(_accuracy(model, test))
        for method in METHODS:
            row = rows.setdefault(method, {})
            for ratio in SURGERY_RATIOS:
                plan = plan_channels(model, train, ChannelOptions(ratio=ratio, importance=method, round_to=1))
                pruned = rebuild(plan.graph, plan.kept)
                row.setdefault(f"surgery_{ratio}", []).append(_accuracy(pruned, test))
                compensate(plan.graph, plan.kept, pruned, train)
                row.setdefault(f"compensated_{ratio}", []).append(_accuracy(pruned, test))
            tune = TrainOptions(epochs=tune_epochs, learning_rate=1e-3, seed=seed, patience=0, validation_split=0.0)
            result = prune_channels(model, train, ChannelOptions(ratio=TUNED_RATIO, importance=method, train=tune))
            row.setdefault(f"tuned_{TUNED_RATIO}", []).append(_accuracy(result.model, test))
    return {m: {k: statistics.mean(v) for k, v in r.items()} | {"per_seed": r} for m, r in rows.items()}


def _accuracy(model, data) -> float:
    return float(np.mean(model.predict(data.x, verbose=0).argmax(-1) == data.y))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="out/bench/structured.json")
    p.add_argument("--quick", action="store_true", help="one seed, fewer latency runs")
    args = p.parse_args(argv)
    runs = 100 if args.quick else 300
    device = [device_figures("MobileNetV2 0.35 32x32", mobilenet_v2(), runs),
              device_figures("ResNet-8 32x32", resnet8(), runs),
              device_figures("DS-CNN KWS 64 filters", ds_cnn(KWS_INPUT, KWS_CLASSES), runs), *uniform_widths(runs)]
    if not args.quick:  # the visual-wake-words input size: the MACs, not per-op overhead, dominate
        device.append(device_figures("MobileNetV2 0.35 96x96", mobilenet_v2(96), runs))
    results = {"device": device,
               "importance": importance_comparison((0,) if args.quick else (0, 1, 2), 15, 3)}
    write_json(args.out, results)
    print_table("structured pruning to ~50% MACs, int8 on host LiteRT (1 thread)",
                ["model", "params", "MACs", ".tflite bytes", "arena bytes", "p50 ms", "speedup", "size"], rows(results))
    print_table("importance: held-back digits accuracy of a residual BN CNN (mean of seeds); surgery alone, "
                "then with the removed channels' means folded into the next biases",
                ["importance", "12.5% removed", "+ bias", "25% removed", "+ bias", "50% removed + 3-epoch fine-tune"],
                importance_rows(results["importance"]))
    return results


def importance_rows(importance: dict) -> list[list]:
    keys = [k for r in SURGERY_RATIOS for k in (f"surgery_{r}", f"compensated_{r}")] + [f"tuned_{TUNED_RATIO}"]
    unpruned = f"{importance['unpruned']['accuracy'] * 100:.2f}%"
    return [["unpruned", *[unpruned] * len(keys)]] + [
        [m, *(f"{r[k] * 100:.2f}%" for k in keys)] for m, r in importance.items() if m != "unpruned"]


def rows(results: dict) -> list[list]:
    out = []
    for d in results["device"]:
        b, a = d["before"], d["after"]
        out.append([d["model"], f"{d['params_before']:,} -> {d['params_after']:,}",
                    f"{b['macs']:,} -> {a['macs']:,} ({a['macs'] / b['macs']:.2f})", f"{b['bytes']:,} -> {a['bytes']:,}",
                    f"{b['arena_bytes']:,} -> {a['arena_bytes']:,}", f"{b['p50_ms']:.3f} -> {a['p50_ms']:.3f}",
                    f"{d['speedup']:.2f}x", f"{d['size_ratio']:.2f}x"])
    return out


if __name__ == "__main__":
    main()
