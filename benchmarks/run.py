"""`make bench`: every performance goal measured side by side in one run; one table, one JSON.

    python benchmarks/run.py [--out out/bench/results.json] [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import arena_corpus, convert_speed, distill_digits, explain_speed, inspect_speed, memory_growth, quality, runtime, structured  # noqa: E402,E501
from benchmarks import quant_quality, tune  # noqa: E402
from benchmarks.common import machine, print_table, write_json  # noqa: E402
from converter.logs import native_logs_to_file  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="out/bench/results.json")
    p.add_argument("--quick", action="store_true", help="demo model only, fewer repeats")
    args = p.parse_args(argv)
    with native_logs_to_file():  # TensorFlow's console noise goes to the log, the table stays readable
        results = measure(args)
    write_json(args.out, results)
    print_table(f"edgeconv benchmarks on {machine()['cpu']} ({machine()['cores']} cores)",
                ["measure", "value", "goal", "met"], rows(results))


def measure(args) -> dict:
    start = time.perf_counter()
    models = "demo" if args.quick else "demo,mobilenetv2,efficientnetb0"
    results = {"conversion": convert_speed.main(["--models", models, "--repeats", "2" if args.quick else "3",
                                                  "--out", str(Path(args.out).with_name("convert.json"))])}
    results["quality"] = quality.run()
    mobilenet = runtime.mobilenet_int8(96 if args.quick else 224)
    results["harness"] = runtime.harness_fidelity(mobilenet)
    results["validation"] = runtime.validation_throughput(mobilenet, 200 if args.quick else 1000)
    results["mac_rate"] = runtime.mac_rate(mobilenet)
    results["inspect"] = inspect_speed.run()
    results["memory_growth"] = memory_growth.run(10 if args.quick else 30)
    results["explain"] = explain_speed.run()
    results["arena"] = arena_corpus.run()
    results["distillation"] = distill_digits.main(["--out", str(Path(args.out).with_name("distill.json"))])
    results["structured"] = structured.main(["--out", str(Path(args.out).with_name("structured.json")),
                                             *(["--quick"] if args.quick else [])])
    results["seconds"] = time.perf_counter() - start
    tasks_start = time.perf_counter()  # timed apart: the realistic tasks train 4 models x 3 seeds
    quick = ["--tasks", "kws,resnet8,tones", "--seeds", "1", "--quick"] if args.quick else []
    results["quant_quality"] = quant_quality.main([*quick, "--out", str(Path(args.out).with_name("quant_quality.json"))])
    results["quant_quality_seconds"] = time.perf_counter() - tasks_start
    tune_start = time.perf_counter()  # a 30-trial search on 2 Dask workers, then 1 vs 2 workers
    results["tune"] = tune.main([*(["--quick"] if args.quick else []), "--out", str(Path(args.out).with_name("tune.json"))])
    results["tune_seconds"] = time.perf_counter() - tune_start
    return results


def rows(r: dict) -> list[list]:
    q, v = r["quality"], r["quality"]["variants"]
    out = [[f"convert time vs plain TFLiteConverter ({m})", f"{c['ratio']:.2f}x", "<= 1.15x",
            c["ratio"] <= 1.15] for m, c in r["conversion"].items()]
    for name, row in v.items():
        out.append([f"{name}: accuracy / bytes / gzip / p50 1t, 2t",
                    f"{row['accuracy'] * 100:.2f}% / {row['bytes']:,} / {row['gzip_bytes']:,} / "
                    f"{row['p50_ms_1t'] * 1e3:.1f}, {row['p50_ms_2t'] * 1e3:.1f} µs", "", ""])
    b = q["int8_breakdown"]
    out.append(["float/int8 size (int8 weights, int32 biases, qparams, other bytes)",
                f"{q['float_over_int8']:.2f}x ({b['int_weights']:,}, {b['int32_biases']:,}, {b['quant_params']:,}, "
                f"{b['other']:,})", f">= plain converter ({q['plain_float_over_int8']:.2f}x)",
                q["float_over_int8"] >= q["plain_float_over_int8"]])
    out.append(["prune75+PQAT int8 gzip vs float gzip", f"{q['float_gzip_over_pruned_gzip']:.1f}x", ">= 10x",
                q["float_gzip_over_pruned_gzip"] >= 10])
    drop = q["float_accuracy"] - v["prune75_pqat_int8"]["accuracy"]
    out.append(["prune75+PQAT int8 accuracy drop", f"{drop * 100:.2f} points", "<= 1 point", drop <= 0.01])
    out.append(["prune75+PQAT int8 gzip vs PTQ int8 gzip", f"{q['ptq_gzip_over_pruned_gzip']:.2f}x", ">= 2.5x",
                q["ptq_gzip_over_pruned_gzip"] >= 2.5])
    h = r["harness"]
    out.append(["latency harness p50 vs bare invoke loop", f"{h['edgeconv_p50_ms']:.3f} vs {h['bare_p50_ms']:.3f} ms "
                f"({h['difference'] * 100:.1f}%)", "within 3%", h["difference"] <= 0.03])
    val = r["validation"]
    out.append(["validation samples/s: 2 workers vs 1 process", f"{val['edgeconv_2_workers_per_s']:.0f} vs "
                f"{val['single_process_per_s']:.0f} ({val['speedup']:.2f}x)", ">= 1.6x", val["speedup"] >= 1.6])
    i = r["inspect"]
    out.append([f"inspect {i['size_bytes'] / 1e6:.0f} MB model", f"{i['seconds_median']:.2f} s, peak RSS "
                f"{i['peak_rss_bytes'] / 2**20:.0f} MB", "< 1 s", i["seconds_median"] < 1])
    m = r["mac_rate"]
    out.append(["int8 MobileNetV2 MAC/s vs 1-core int8 peak", f"{m['mac_per_s'] / 1e9:.1f} G ({m['ratio'] * 100:.1f}% of "
                f"{m['peak_mac_per_s_1core'] / 1e9:.0f} G; {m['assumption']})", "report", ""])
    g = r["memory_growth"]
    out.append([f"RSS growth over {g['models']} conversions", f"{g['growth_bytes'] / 2**20:.0f} MB "
                f"(second half: {g['growth_second_half_bytes'] / 2**20:.0f} MB)", "second half <= 20 MB",
                g["growth_second_half_bytes"] <= 20 * 2**20])
    for name, e in r["explain"].items():
        out.append([f"LIME on {name} (1000 perturbations)", f"{e['explanations_per_s']:.1f} explanations/s, "
                    f"{e['predictions_per_s']:.0f} predictions/s", "report", ""])
    a = r["arena"]
    for row in a["rows"]:
        out.append([f"arena {row['model']}: estimate 64-bit / 32-bit vs tflite-micro measured",
                    f"{row['estimate_64_bytes']:,} / {row['estimate_32_bytes']:,} vs {row['measured_bytes']:,} B "
                    f"({row['error'] * 100:+.1f}%)", "within 10%, never below", 0 <= row["error"] <= 0.10])
    d = r["distillation"]
    out.append([f"distilled student ({d['student_parameters']:,} params) vs labels only, 3 seeds",
                f"{d['mean_distilled'] * 100:.2f}% vs {d['mean_labels_only'] * 100:.2f}%", "distilled higher",
                d["mean_distilled"] > d["mean_labels_only"]])
    for s in r["structured"]["device"]:
        out.append([f"structured pruning {s['model']}: MACs {s['before']['macs'] / s['after']['macs']:.2f}x fewer; "
                    "int8 latency / size", f"{s['speedup']:.2f}x faster / {s['size_ratio']:.2f}x smaller",
                    ">= 1.6x / >= 1.8x", s["speedup"] >= 1.6 and s["size_ratio"] >= 1.8])
    out.append(["structured pruning: arena after / before", ", ".join(f"{s['arena_ratio']:.2f}"
                                                                     for s in r["structured"]["device"]),
                "<= 1", all(s["arena_ratio"] <= 1 for s in r["structured"]["device"])])
    out.append(["bench run time (without the realistic tasks)", f"{r['seconds'] / 60:.1f} min", "< 15 min",
                r["seconds"] < 900])
    out.extend(quant_quality.bench_rows(r["quant_quality"]))
    out.append(["realistic tasks run time", f"{r['quant_quality_seconds'] / 60:.1f} min", "report", ""])
    out.extend(tune.bench_rows(r["tune"]))
    out.append(["tune benchmark run time", f"{r['tune_seconds'] / 60:.1f} min", "report", ""])
    return [[a, b, c, ("yes" if d else "no") if isinstance(d, bool) else d] for a, b, c, d in out]


if __name__ == "__main__":
    main()
