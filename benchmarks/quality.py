"""Output quality on the demo task: float vs PTQ int8 vs QAT int8 vs prune 75% + PQAT int8:
accuracy, raw and gzip size, latency (1 and 2 threads), and where the int8 bytes go."""
from __future__ import annotations

from benchmarks.convert_speed import plain_converter
from converter.verify.measure import gzip_size, size_breakdown
from converter.inputs.data import demo_digits
from converter.demo import train_cnn
from converter.export.tflite import ConvertOptions, convert
from converter.optimize.prune import PruneOptions, prune
from converter.optimize.qat import QatOptions, qat
from converter.optimize.train import TrainOptions
from converter.targets.host import HostSession
from converter.targets.keras import KerasSession
from converter.tflite.reader import read_model
from converter.tflite.weights import weight_sparsity
from converter.verify.compare import compare


def run() -> dict:
    train, test = demo_digits(0)
    base = train_cnn(train, 0, 30)
    ref = KerasSession(base)
    variants = {"float": convert(base, None, ConvertOptions(mode="float32")).tflite,
                "ptq_int8": convert(base, train, ConvertOptions()).tflite}
    plain_int8 = plain_converter(base, train, 200)
    q = qat(base, train, QatOptions(train=TrainOptions(epochs=5, learning_rate=3e-4))).model
    variants["qat_int8"] = convert(q, train, ConvertOptions()).tflite
    pruned = prune(base, train, PruneOptions(0.75, train=TrainOptions(epochs=20), block=(4, 1))).model
    pq = qat(pruned, train, QatOptions(True, TrainOptions(epochs=5, learning_rate=3e-4))).model
    variants["prune75_pqat_int8"] = convert(pq, train, ConvertOptions()).tflite
    rows = {}
    for name, model in variants.items():
        v = compare(ref, HostSession(model), test)
        latency = {t: HostSession(model, threads=t).benchmark(300, 30).p50_ms for t in (1, 2)}
        rows[name] = {"accuracy": v.candidate_accuracy, "bytes": len(model), "gzip_bytes": gzip_size(model),
                      "p50_ms_1t": latency[1], "p50_ms_2t": latency[2]}
    rows["prune75_pqat_int8"]["tflite_weight_sparsity"] = weight_sparsity(variants["prune75_pqat_int8"])
    return {"float_accuracy": compare(ref, HostSession(variants["float"]), test).reference_accuracy,
            "variants": rows, "int8_breakdown": size_breakdown(read_model(variants["ptq_int8"])),
            "float_over_int8": len(variants["float"]) / len(variants["ptq_int8"]),
            "plain_float_over_int8": len(variants["float"]) / len(plain_int8),
            "float_gzip_over_pruned_gzip": rows["float"]["gzip_bytes"] / rows["prune75_pqat_int8"]["gzip_bytes"],
            "ptq_gzip_over_pruned_gzip": rows["ptq_int8"]["gzip_bytes"] / rows["prune75_pqat_int8"]["gzip_bytes"]}
