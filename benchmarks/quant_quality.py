"""Quantization quality on the realistic tasks (benchmarks/tasks/): for each task and seed, train
the float model, convert it with post-training int8 (min/max calibration, edgeconv's converter)
and with QAT int8 (converter.optimize.qat from calibrated ranges with a cosine schedule, on the
labels, and again on the float model's outputs alone, then the same converter), and compare the
.tflite models on held-back data: the task's metric, size, host latency (p50, 1 thread, XNNPACK)
and the whole tensor arena (tflite-micro's measurement on this 64-bit host, else the 32-bit
estimate). Mean and spread over the seeds go to a Markdown table and a JSON file.

    python benchmarks/quant_quality.py [--tasks kws,resnet8,mobilenetv2,tones] [--seeds 3] [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, write_json  # noqa: E402
from benchmarks.tasks import TASKS, Task  # noqa: E402

# teacher: QAT on the inputs alone; recovered: --max-accuracy-drop RECOVERY_BUDGET --recover (mixed int8/int16
# where PTQ misses the budget); half_macs: structured pruning to ~50% of the MACs, fine-tuned, then PTQ int8
VARIANTS = ("float", "ptq_int8", "qat_int8", "qat_teacher_int8", "recovered_int8", "half_macs_int8")
RECOVERY_BUDGET = 1.0  # points, measured on the last fifth of the training data (the test set stays unseen)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from {', '.join(TASKS)}")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="small data, one epoch: checks the pipeline, not quality")
    p.add_argument("--out", default="out/bench/quant_quality.json")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        p.error(f"unknown task {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    from converter.logs import native_logs_to_file

    document = {"quick": args.quick, "seeds": args.seeds, "tasks": {}}
    with native_logs_to_file():  # TensorFlow's console noise goes to the log, the table stays readable
        for name in names:
            document["tasks"][name] = run_task(TASKS[name], range(args.seeds), args.quick)
            write(document, Path(args.out))  # after each task: a long run's finished tasks are kept
    print(markdown(document))
    return document


def write(document: dict, out: Path) -> None:
    write_json(out, document)
    out.with_suffix(".md").write_text(markdown(document))


def run_task(task: Task, seeds, quick: bool) -> dict:
    missing = task.missing()
    if missing:
        return {"description": task.description, "skipped": missing}
    start = time.perf_counter()
    runs = [run_seed(task, seed, quick) for seed in seeds]
    return {"description": task.description, "metric": task.metric_name, "runs": runs,
            "summary": {v: summarise([r[v] for r in runs]) for v in VARIANTS},
            "qat": [r["qat"] for r in runs], "seconds": time.perf_counter() - start}


def run_seed(task: Task, seed: int, quick: bool) -> dict:
    from converter import keras_env
    from converter.export.tflite import ConvertOptions, convert
    from converter.optimize.qat import QatOptions, qat
    from converter.optimize.train import TrainOptions

    start = time.perf_counter()
    train, test = task.data(seed, quick)
    data_seconds = time.perf_counter() - start
    model = task.train(train, seed, quick)
    train_seconds = time.perf_counter() - start - data_seconds
    recipe = task.quick_recipe if quick else task.recipe
    options = ConvertOptions(seed=seed)
    models = {"float": convert(model, None, ConvertOptions(mode="float32")).tflite,
              "ptq_int8": convert(model, train, options).tflite}
    qat_start = time.perf_counter()
    schedule = TrainOptions(epochs=recipe.qat_epochs, batch_size=recipe.batch_size,
                            learning_rate=recipe.qat_learning_rate, seed=seed, schedule="cosine")
    tuned = qat(model, train, QatOptions(train=schedule))
    models["qat_int8"] = convert(tuned.model, train, options).tflite
    qat_seconds = time.perf_counter() - qat_start
    distilled = qat(model, train, QatOptions(train=schedule, targets="teacher"))
    models["qat_teacher_int8"] = convert(distilled.model, train, options).tflite
    models["recovered_int8"], moved = recovered(model, train, models["ptq_int8"], options)
    models["half_macs_int8"] = convert(half_macs(model, train, recipe, seed), train, options).tflite
    row = {v: figures(task, tflite, test, 20 if quick else 200) for v, tflite in models.items()}
    keras_env.clear_session()  # the next seed's model starts from a clean graph
    return {"seed": seed, **row, "train_samples": len(train), "test_samples": len(test),
            "qat": {"annotation": tuned.annotation, "fallback": tuned.fallback}, "recovery_moved": moved,
            "seconds": {"data": data_seconds, "train": train_seconds, "qat": qat_seconds,
                        "total": time.perf_counter() - start}}


def recovered(model, train, int8: bytes, options) -> tuple[bytes, list[str]]:
    """convert --max-accuracy-drop RECOVERY_BUDGET --recover: the int8 model when it holds the
    budget, else the mixed int8/int16 one; with the layers moved to int16."""
    from converter.errors import CheckFailed
    from converter.export.recovery import recover

    held = train.take(np.arange(len(train) * 4 // 5, len(train)))
    try:
        result = recover(model, int8, train, held, options, RECOVERY_BUDGET)
    except CheckFailed as e:  # every op in 16 bits misses the budget too: the row shows int8, the note says why
        return int8, [f"not reached: {e}"]
    return (result.tflite, result.steps[-1].moved) if result.needed else (int8, [])


def half_macs(model, train, recipe, seed: int):
    """Structured pruning to about half the MACs (default importance, channels rounded to 8),
    fine-tuned for the recipe's epochs on all the training data (no early stop: 10% of KWS's
    900 clips is too few to judge an epoch by), distilled from the unpruned model or not."""
    from converter.optimize.structured import ChannelOptions, prune_channels
    from converter.optimize.train import TrainOptions

    tune = TrainOptions(epochs=recipe.prune_epochs, batch_size=recipe.batch_size, learning_rate=recipe.prune_learning_rate,
                        seed=seed, schedule="cosine", patience=0, validation_split=0.0)
    return prune_channels(model, train, ChannelOptions(target_macs=0.5, train=tune, distill=recipe.prune_distill)).model


def figures(task: Task, tflite: bytes, test, runs: int) -> dict:
    """The metric on the test set, and size, latency and arena as edgeconv's reports give them."""
    from converter.report import Report
    from converter.targets.host import HostSession
    from converter.verify.figures import measure_stage

    with HostSession(tflite) as session:
        outputs = next(iter(session.predict(list(test.inputs)).values()))
    report = Report("quant quality")
    kind = measure_stage(tflite, report, runs=runs)
    memory = report.model_figures("memory", kind)
    measured = memory["arena_measured"]
    return {"metric": task.metric(test.y, outputs), "bytes": len(tflite),
            "p50_ms": report.model_figures("latency", kind)["p50_ms"],
            "arena_bytes": measured.get("total_bytes", memory["arena_estimate"]["32bit"]["total_bytes"]),
            "arena_source": measured.get("measured_by", "estimate, 32-bit")}


def summarise(rows: list[dict]) -> dict:
    out = {}
    for key in ("metric", "bytes", "p50_ms", "arena_bytes"):
        values = [r[key] for r in rows]
        out[key] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "min": min(values), "max": max(values)}
    out["arena_source"] = rows[0]["arena_source"]
    return out


def bench_rows(document: dict) -> list[list]:
    """`make bench` rows: each variant's figures, and issue 18's goals (PTQ int8 within 0.5 points
    of float on the KWS and image tasks; QAT int8 at least PTQ and within 0.3 points of float)."""
    rows = []
    for name, result in document["tasks"].items():
        if "skipped" in result:
            rows.append([f"{name}: skipped", result["skipped"], "", ""])
            continue
        s = result["summary"]
        for variant in VARIANTS:
            m = s[variant]
            rows.append([f"{name} {variant}: {result['metric']} (sd) / KiB / p50 / arena",
                         f"{m['metric']['mean'] * 100:.2f}% ({m['metric']['sd'] * 100:.2f}) / "
                         f"{m['bytes']['mean'] / 1024:,.1f} / {m['p50_ms']['mean'] * 1e3:,.0f} µs / "
                         f"{m['arena_bytes']['mean'] / 1024:,.1f} KiB", "", ""])
        mean = {v: s[v]["metric"]["mean"] for v in VARIANTS}
        if TASKS[name].ptq_should_hold:
            rows.append([f"{name}: PTQ int8 drop", f"{(mean['float'] - mean['ptq_int8']) * 100:.2f} points",
                         "<= 0.5 points", mean["float"] - mean["ptq_int8"] <= 0.005])
        rows.append([f"{name}: QAT int8 (teacher) vs PTQ int8",
                     f"{mean['qat_teacher_int8'] * 100:.2f}% vs {mean['ptq_int8'] * 100:.2f}%", "", ""])
        rows.append([f"{name}: QAT int8 vs PTQ int8, drop from float",
                     f"{mean['qat_int8'] * 100:.2f}% vs {mean['ptq_int8'] * 100:.2f}%, "
                     f"{(mean['float'] - mean['qat_int8']) * 100:.2f} points", ">= PTQ, <= 0.3 points",
                     mean["qat_int8"] >= mean["ptq_int8"] and mean["float"] - mean["qat_int8"] <= 0.003])
        rows += half_macs_rows(name, s)
    return rows


def half_macs_rows(name: str, s: dict) -> list[list]:
    """Issue 19's goals for the structured model against the unpruned int8 one (means over seeds)."""
    base, cut = s["ptq_int8"], s["half_macs_int8"]
    speedup = base["p50_ms"]["mean"] / cut["p50_ms"]["mean"]
    smaller = base["bytes"]["mean"] / cut["bytes"]["mean"]
    drop = (base["metric"]["mean"] - cut["metric"]["mean"]) * 100
    return [[f"{name}: half MACs int8 latency vs unpruned int8", f"{speedup:.2f}x faster", ">= 1.6x", speedup >= 1.6],
            [f"{name}: half MACs int8 .tflite", f"{smaller:.2f}x smaller", ">= 1.8x", smaller >= 1.8],
            [f"{name}: half MACs int8 arena", f"{cut['arena_bytes']['mean'] / 1024:,.1f} vs "
             f"{base['arena_bytes']['mean'] / 1024:,.1f} KiB", "no larger",
             cut["arena_bytes"]["mean"] <= base["arena_bytes"]["mean"]],
            [f"{name}: half MACs int8 accuracy vs unpruned int8", f"{drop:+.2f} points", "within 1 point", drop <= 1.0]]


def markdown(document: dict) -> str:
    m = machine()
    lines = [f"# Quantization quality on realistic tasks ({document['seeds']} seeds"
             f"{', quick mode: not a quality figure' if document['quick'] else ''})", "",
             f"{m['cpu']} ({m['cores']} cores). Metric: mean ± sd over seeds [min–max]; drop = float − variant "
             "(points). Latency: host LiteRT, XNNPACK, 1 thread, p50. Arena: whole arena measured by tflite-micro "
             "(64-bit host).", "",
             "| task | variant | metric | drop | size | latency p50 | arena |", "|---|---|---|---|---|---|---|"]
    notes = []
    for name, result in document["tasks"].items():
        if "skipped" in result:
            lines.append(f"| {name} | skipped: {result['skipped']} | | | | | |")
            continue
        s = result["summary"]
        for variant in VARIANTS:
            lines.append(_row(name, variant, s[variant], s["float"]))
        fallbacks = {q["fallback"] for q in result["qat"] if q["fallback"]}
        annotation = ", ".join(sorted({q["annotation"] for q in result["qat"]}))
        notes.append(f"- {name}: {result['description']}; {result['runs'][0]['train_samples']} train / "
                     f"{result['runs'][0]['test_samples']} test samples; QAT annotation: {annotation}"
                     f"{'; fallback: ' + '; '.join(fallbacks) if fallbacks else ''}; "
                     f"{result['seconds'] / 60:.1f} min for {len(result['runs'])} seeds.")
    return "\n".join(lines + ["", *notes, ""])


def _row(task: str, variant: str, s: dict, base: dict) -> str:
    metric = s["metric"]
    drop = (base["metric"]["mean"] - metric["mean"]) * 100
    return (f"| {task} | {variant} | {metric['mean'] * 100:.2f}% ± {metric['sd'] * 100:.2f} "
            f"[{metric['min'] * 100:.2f}–{metric['max'] * 100:.2f}] | "
            f"{'–' if variant == 'float' else f'{drop:+.2f}'} | {s['bytes']['mean'] / 1024:,.1f} KiB | "
            f"{s['p50_ms']['mean'] * 1e3:,.0f} ± {s['p50_ms']['sd'] * 1e3:,.0f} µs | "
            f"{s['arena_bytes']['mean'] / 1024:,.1f} KiB{'' if 'micro' in s['arena_source'] else ' (estimate)'} |")


if __name__ == "__main__":
    main()
