"""`edgeconv tune` on the keyword-spotting task (benchmarks/tasks/kws.py): does a search under an
arena and a latency budget find a model that beats plain PTQ int8, and do two Dask workers
halve the wall time?

1. Train the float DS-CNN once (seed 0), convert it with plain post-training int8 (min/max
   calibration) and validate it: the baseline's accuracy, host latency, arena and flash.
2. Search (TPE, multi-objective, constrained): unstructured (amount) / 2:4 / channel pruning
   (ratio, fine-tune epochs and learning rate, distilled or not), QAT on/off and its epochs, calibration
   method and samples; budgets: arena at most ARENA_SHARE of the baseline's and latency at most
   the baseline's. Run on a Dask cluster on 127.0.0.1 with two worker processes (one thread each).
3. The same first WALL_TRIALS settings (enqueued, so both run the same work) with one worker and
   with two: the wall-time ratio.

    python benchmarks/tune.py [--trials 30] [--wall-trials 10] [--out out/bench/tune.json] [--quick]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import print_table, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARENA_SHARE = 0.9  # the arena budget: 90% of the PTQ int8 model's, so only a smaller structure fits
PORT = 8797


def search_recipe(folder: Path, epochs: int) -> str:
    return f"""description: KWS DS-CNN, searched under arena and latency budgets
model: {folder / 'kws.keras'}
data: {folder / 'train.npz'}
validation_data: {folder / 'test.npz'}
seed: 0
stages:
  - prune: {{sparsity: 0.5, epochs: {epochs}, learning_rate: 0.001}}
  - qat: {{epochs: {epochs}, learning_rate: 0.0003}}
  - convert: {{mode: int8, samples: 200}}
  - validate: {{}}
search:
  prune:
    variants:
      - {{sparsity: [0.3, 0.7]}}
      - {{structure: "2:4"}}
      - {{structured: true, channels: [0.1, 0.35], distill: [true, false], early_stop: false, int8_figures: false,
         epochs: [4, {10 * epochs}], learning_rate: {{low: 0.0003, high: 0.005, log: true}}}}
  qat: {{enabled: [true, false], epochs: [1, {max(epochs, 2)}]}}
  convert:
    samples: {{low: 64, high: 512, log: true}}
    variants: [{{calibration: minmax}}, {{calibration: percentile}}, {{calibration: mse}}]
"""


def baseline_recipe(folder: Path) -> str:
    return f"""description: KWS DS-CNN, plain PTQ int8
model: {folder / 'kws.keras'}
data: {folder / 'train.npz'}
validation_data: {folder / 'test.npz'}
seed: 0
stages:
  - convert: {{mode: int8, samples: 200}}
  - validate: {{workers: 1}}
"""


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--wall-trials", type=int, default=10, help="trials of the 1- vs 2-worker wall-time comparison")
    p.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs of prune and QAT in the recipe")
    p.add_argument("--quick", action="store_true", help="6 data clips per class, 4 + 2 trials: checks the pipeline")
    p.add_argument("--out", default="out/bench/tune.json")
    args = p.parse_args(argv)
    if args.quick:
        args.trials, args.wall_trials, args.epochs = 4, 2, 1
    folder = Path(args.out).with_suffix("").resolve()
    from benchmarks.tasks.kws import KWS_TASK

    if KWS_TASK.missing():
        return {"skipped": KWS_TASK.missing()}
    folder.mkdir(parents=True, exist_ok=True)
    document = {"quick": args.quick, "arena_share": ARENA_SHARE, **_prepare(folder, args.quick)}
    baseline = _baseline(folder)
    document["ptq_int8"] = baseline
    budgets = {"max_arena_kb": round(baseline["arena_kb"] * ARENA_SHARE, 2),
               "max_latency_ms": round(baseline["latency_ms"], 4)}
    document["budgets"] = budgets
    (folder / "search.yaml").write_text(search_recipe(folder, args.epochs))
    with _cluster(2) as address:
        search = _search(folder / "search.yaml", folder / "study", args.trials, budgets, address)
    document["search"] = search
    document["goal"] = _goal(search, baseline)
    params = search["first_params"][:args.wall_trials]
    document["wall"] = {}
    for workers in (1, 2):
        with _cluster(workers) as address:
            document["wall"][f"{workers}_workers"] = _search(folder / "search.yaml", folder / f"wall{workers}",
                                                             len(params), budgets, address, params)["seconds"]
    document["wall"]["ratio"] = document["wall"]["2_workers"] / document["wall"]["1_workers"]
    document["wall"]["trials"] = len(params)
    write_json(args.out, document)
    print_table("edgeconv tune on KWS", ["measure", "value", "goal", "met"], bench_rows(document))
    return document


def _prepare(folder: Path, quick: bool) -> dict:
    """The KWS split as .npz files and the float DS-CNN trained once."""
    from benchmarks.tasks.kws import KWS_TASK

    train, test = KWS_TASK.data(0, quick)
    np.savez(folder / "train.npz", x=train.x, y=train.y)
    np.savez(folder / "test.npz", x=test.x, y=test.y)
    model_path = folder / "kws.keras"
    start = time.perf_counter()
    if not model_path.exists():
        from converter.inputs.models import save_model

        save_model(KWS_TASK.train(train, 0, quick), model_path)
    return {"train_samples": len(train), "test_samples": len(test), "train_seconds": time.perf_counter() - start}


def _baseline(folder: Path) -> dict:
    from converter.pipeline.recipe import load_recipe
    from converter.pipeline.runner import run_recipe
    from converter.report.summary import candidate_of
    from converter.tune.objectives import figures

    (folder / "ptq.yaml").write_text(baseline_recipe(folder))
    report = run_recipe(load_recipe(str(folder / "ptq.yaml")), folder / "ptq", force=True)
    return figures(report, candidate_of(report))


def _search(recipe: Path, out: Path, trials: int, budgets: dict, address: str, params: list | None = None) -> dict:
    """One study through the same Session the CLI uses; `params` enqueued first (same work)."""
    from converter.tune.session import Session

    shutil.rmtree(out, ignore_errors=True)
    session = Session.prepare(str(recipe), [], "host", budgets, out, None, None, address, True, False, ())
    for p in params or ():
        session.study.enqueue_trial(p)
    start = time.perf_counter()
    try:
        result = session.run(trials, lambda message: print(message, file=sys.stderr, flush=True))
    finally:
        session.close()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "trials": result.done, "retried": result.retried,
            "complete": sum(r["state"] == "complete" for r in result.rows),
            "stopped_early": sum(r["state"] == "stopped" for r in result.rows),
            "failed": sum(r["state"] == "failed" for r in result.rows),
            "feasible": sum(r["state"] == "complete" and r["feasible"] for r in result.rows),
            "best": result.best and {k: result.best[k] for k in ("trial", "figures", "settings")},
            "front": [{k: r[k] for k in ("trial", "figures", "settings")} for r in result.front],
            "first_params": [t.params for t in sorted(session.study.trials, key=lambda t: t.number)
                             if t.user_attrs.get("state") in ("complete", "stopped", "failed")]}


def _goal(search: dict, baseline: dict) -> dict:
    best = search["best"]
    if not best:
        return {"feasible": False}
    f = best["figures"]
    better = [k for k in ("latency_ms", "arena_kb", "flash_kb") if f[k] < baseline[k]]
    return {"feasible": True, "accuracy_gap_points": baseline["accuracy"] - f["accuracy"], "better_on": better,
            "met": bool(better) and baseline["accuracy"] - f["accuracy"] <= 0.5}


@contextlib.contextmanager
def _cluster(workers: int):
    """A Dask scheduler and `workers` worker processes (one thread each) on 127.0.0.1."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    address = f"tcp://127.0.0.1:{PORT}"
    procs = [subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(PORT),
                               "--no-dashboard"], env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)]
    time.sleep(3)
    procs.append(subprocess.Popen([bin_dir / "dask", "worker", address, "--nworkers", str(workers), "--nthreads", "1",
                                   "--no-dashboard", "--host", "127.0.0.1"], env=env, stderr=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL))
    try:
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def bench_rows(d: dict) -> list[list]:
    if "skipped" in d:
        return [["tune on KWS: skipped", d["skipped"], "", ""]]
    b, s, g, w = d["ptq_int8"], d["search"], d["goal"], d["wall"]
    rows = [["PTQ int8: accuracy / latency / arena / flash",
             f"{b['accuracy']:.2f}% / {b['latency_ms'] * 1e3:.0f} µs / {b['arena_kb']:.1f} KB / {b['flash_kb']:.1f} KB",
             "", ""],
            [f"search: {s['trials']} trials (complete / stopped early / failed / retried)",
             f"{s['complete']} / {s['stopped_early']} / {s['failed']} / {s['retried']}, {s['seconds'] / 60:.1f} min",
             "", ""]]
    if s["best"]:
        f = s["best"]["figures"]
        rows.append([f"best feasible (trial {s['best']['trial']}): accuracy / latency / arena / flash",
                     f"{f['accuracy']:.2f}% / {f['latency_ms'] * 1e3:.0f} µs / {f['arena_kb']:.1f} KB / "
                     f"{f['flash_kb']:.1f} KB", "feasible", True])
        rows.append(["best vs PTQ int8: better on, accuracy gap", f"{', '.join(g['better_on']) or 'nothing'}, "
                     f"{g['accuracy_gap_points']:+.2f} points", ">= 1 of latency/arena/flash, <= 0.5 points", g["met"]])
    else:
        rows.append(["best feasible", "none", "feasible", False])
    rows.append([f"wall time, {w['trials']} trials: 2 workers / 1 worker",
                 f"{w['2_workers'] / 60:.1f} / {w['1_workers'] / 60:.1f} min ({w['ratio']:.2f}x)", "<= 0.65x",
                 w["ratio"] <= 0.65])
    return [[a, b, c, ("yes" if m else "no") if isinstance(m, bool) else m] for a, b, c, m in rows]


if __name__ == "__main__":
    main()
