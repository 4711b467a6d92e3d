"""Runs every corpus model through every step with the `edgeconv` CLI, as a user would
(`--json`, reading the one JSON document, keeping the exit code), and classifies each cell:

    ✓         the step did what was asked
    fallback  it finished, but did less than asked, and said why (QAT left layers or the whole
              model to calibration, the EdgeTPU graph splits, Vela leaves ops on the CPU, ...)
    refused   exit 3: the input could not be processed, with a message and a hint
    failed    exit 1: a check the command ran said no
    ✗         a bug: exit 4, a death by signal, a timeout, or no JSON document
    –         not run: a step it needs did not succeed
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .corpus import Spec

STEPS = ["convert", "validate", "bench", "prune", "qat", "pqat", "distill", "edgetpu", "ethosu", "micro"]
NEEDS = {"validate": "convert", "bench": "convert", "edgetpu": "convert", "ethosu": "convert", "micro": "convert",
         "pqat": "prune"}
# A cell that takes longer is a hang, not a slow model: DenseNet121's prune and NASNetMobile's QAT
# take 5-10 minutes on 2 idle cores (graph building dominates), and more under load
TIMEOUT = 1200
SYMBOL = {"ok": "✓", "fallback": "fallback", "refused": "refused", "failed": "failed", "bug": "✗", "skipped": "–",
          "notrun": "·"}
# Training kept tiny, only to show the step works: one epoch of the 32 samples in data.npz, or of
# the Spec's train_samples (train.npz) for the models whose training takes minutes per batch
TRAIN = ("--epochs", "1", "--batch-size", "8")


@dataclass
class Cell:
    outcome: str          # ok | fallback | refused | failed | bug | skipped
    why: str = ""         # the reason (fallback/refused/failed/bug) or the headline figure (ok)
    exit_code: int | None = None
    seconds: float = 0.0
    argv: list | None = None  # the command (store.portable), so a stored cell is reused only for the same command
    date: str = ""  # when the cell was taken
    commit: str = ""  # on which code (git HEAD, +dirty with uncommitted changes)

    def text(self) -> str:
        return SYMBOL[self.outcome] + (f" ({self.why})" if self.why else "")


def edgeconv() -> str:
    return str(Path(sys.executable).with_name("edgeconv"))


def run_cli(args: list[str], cwd: Path) -> tuple[int, dict | None, str, float]:
    """The exit code (negative: killed by that signal), the JSON document, stderr's tail."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([edgeconv(), *args, "--json"], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, None, f"timed out after {TIMEOUT} s", time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    try:
        document = json.loads(proc.stdout)
    except ValueError:
        document = None
    return proc.returncode, document, proc.stderr.strip()[-2000:], seconds


def classify(step: str, code: int | None, doc: dict | None, stderr: str, seconds: float) -> Cell:
    def cell(outcome, why=""):
        return Cell(outcome, why, code, round(seconds, 1))

    if code is None:
        return cell("bug", stderr)
    if code < 0:
        return cell("bug", f"killed by {signal.Signals(-code).name}")
    if doc is None:
        return cell("bug", f"exit {code} without a JSON document: {stderr.splitlines()[-1] if stderr else ''}")
    error = doc.get("error") if isinstance(doc, dict) else None
    if error is not None:
        message = error.get("message", "")
        outcome = {3: "refused", 1: "failed"}.get(code, "bug")
        return cell(outcome, message)
    if code == 4 or code not in (0, 1):
        return cell("bug", f"exit {code} with a result document")
    outcome, why = READ[step](doc)
    if code == 1 and outcome == "ok":
        outcome, why = "failed", why or "a check failed"
    return cell(outcome, why)


# ---- what each step's JSON document says ----------------------------------------------------

def _convert(doc):
    sections = doc.get("sections", {})
    conv, model = sections.get("conversion", {}), sections.get("model", {})
    intake = model.get("intake") or {}
    fig = f"{conv['size_bytes']:,} B" if conv.get("size_bytes") else ""
    failed = [c for c in doc.get("checks", []) if not c.get("ok")]
    if failed:
        return "failed", "; ".join(c.get("name", "") for c in failed)
    if isinstance(intake, dict) and intake.get("source") == "keras3-export":
        return "fallback", f"exported by Keras 3: {intake.get('rebuild_failed', 'tf_keras cannot rebuild it')}"
    refused = [w for w in doc.get("warnings", []) if "will refuse it" in w]  # tflite/kernel_limits.py
    return "ok", "; ".join([fig, *refused])


def _validate(doc):
    v = doc.get("sections", {}).get("validation", {})
    outs = v.get("outputs") or []
    cos = min((o.get("cosine", 1.0) for o in outs), default=None)
    agree = v.get("agreement")
    parts = [f"agreement {agree * 100:.0f}%" if agree is not None else "",
             f"cosine {cos:.3f}" if cos is not None else ""]
    return "ok", ", ".join(p for p in parts if p)


def _bench(doc):
    runs = doc.get("runs") or []
    p50 = next((r["latency"]["p50_ms"] for r in runs if (r.get("latency") or {}).get("p50_ms") is not None), None)
    return "ok", f"p50 {p50:.3g} ms" if p50 is not None else ""


def _prune(doc):
    layers = doc.get("layer_sparsity") or {}
    return "ok", f"{len(layers)} layers pruned" if layers else ""


def _qat(doc):
    if not doc.get("applied", True):
        return "fallback", str(doc.get("fallback") or "QAT not applied")
    left = doc.get("not_wrapped") or []
    if left:
        why: dict[str, list] = {}  # type -> [count, the lint's reason]
        for item in left:
            entry = why.setdefault(item.get("type", "?"), [0, item.get("action", "").split(": left float")[0]])
            entry[0] += 1
        return "fallback", f"{len(left)} layers left to calibration: " + "; ".join(
            f"{kind} ×{n} ({reason})" for kind, (n, reason) in sorted(why.items(), key=lambda kv: -kv[1][0]))
    return "ok", f"{doc.get('annotation', '')} annotated"


def _distill(doc):
    return "ok", f"student {doc.get('student_parameters', 0):,} params"


def _edgetpu(doc):
    if doc.get("fatal"):
        return "refused", str(doc["fatal"])
    fig = f"{doc.get('edgetpu_ops')}/{doc.get('total_ops')} ops mapped"
    split = doc.get("split_at")
    if split:
        return "fallback", f"{fig}; splits at {split.get('op')} #{split.get('index')}: {split.get('detail')}"
    return "ok", fig


def _ethosu(doc):
    npu, cpu = doc.get("npu_operators"), doc.get("cpu_operators")
    if not npu:
        return "fallback", "no operator on the NPU"
    if cpu:
        return "fallback", f"{npu} NPU / {cpu} CPU operators"
    return "ok", f"{npu} NPU operators"


def _micro(doc):
    sections = doc.get("sections", {})
    v = sections.get("validation", {})
    memory = sections.get("memory", {})
    # validate files the candidate's figures under its kind (e.g. memory.int8.arena_measured)
    measured = next((f["arena_measured"] for f in memory.values() if isinstance(f, dict) and "arena_measured" in f),
                    {}) or {}
    arena = measured.get("total_bytes")
    agree = v.get("agreement")
    parts = [f"agreement {agree * 100:.0f}%" if agree is not None else "",
             f"arena {arena:,} B" if isinstance(arena, int) else ""]
    return "ok", ", ".join(p for p in parts if p)


READ = {"convert": _convert, "validate": _validate, "bench": _bench, "prune": _prune, "qat": _qat, "pqat": _qat,
        "distill": _distill, "edgetpu": _edgetpu, "ethosu": _ethosu, "micro": _micro}


# ---- the commands ---------------------------------------------------------------------------

def commands(spec: Spec, folder: Path, package: Path) -> dict[str, list[str]]:
    model, data, runs = str(folder / spec.file), str(folder / "data.npz"), folder / "runs"
    train_data = str(folder / "train.npz") if spec.train_samples else data  # fewer samples for the big models
    imports = [a for f in spec.imports for a in ("--import", str(package / f))]
    int8 = str(runs / "model_int8.tflite")
    train = [*TRAIN, *spec.train_args]
    student = "tiny_cnn" if spec.kind == "image" else "tiny_mlp"
    return {
        "convert": ["convert", model, "--data", data, "--samples", "16", "-o", int8, "--force", *imports],
        "validate": ["validate", int8, "--reference", model, "--data", data, "--kernels", "reference",
                     "--workers", "1", *imports],
        "bench": ["bench", int8, "--runs", "20", "--warmup", "2"],
        "prune": ["prune", model, "--data", train_data, "--sparsity", "0.5", *train, "-o", str(runs / "pruned.keras"),
                  "--force", *imports],
        "qat": ["qat", model, "--data", train_data, *train, "-o", str(runs / "qat.h5"), "--force", *imports],
        "pqat": ["qat", str(runs / "pruned.keras"), "--preserve-sparsity", "--data", train_data, *train,
                 "-o", str(runs / "pqat.h5"), "--force", *imports],
        "distill": ["distill", "--teacher", model, "--student", student, "--width", "0.25", "--data", train_data,
                    *train, "-o", str(runs / "student.keras"), "--force", *imports],
        "edgetpu": ["edgetpu", int8],
        "ethosu": ["ethosu", int8],
        "micro": ["validate", int8, "--reference", model, "--data", data, "--target", "micro", "--workers", "1",
                  *imports],
    }


ARTIFACTS = {"convert": "model_int8.tflite", "prune": "pruned.keras"}  # what the steps after need


def run_model(spec: Spec, folder: Path, package: Path, steps: list[str] = STEPS, log=None, store=None,
              rerun: bool = False, build=None) -> dict[str, Cell]:
    """Runs the steps in order and returns their cells. With a `store` (store.py), a stored cell
    whose command is unchanged is kept unless `rerun`; a step's prerequisite (NEEDS) runs
    first when its cell is missing or stale, or its output is not on this machine (a fresh
    clone), and a step whose prerequisite ran now runs again. `build()` makes the model's
    folder before the first command runs."""
    from .store import portable

    argv = commands(spec, folder, package)
    saved = store.cells(spec.name) if store else {}
    row: dict[str, Cell] = {}
    fresh: set[str] = set()  # the steps run now

    def current(step):
        cell = row.get(step) or saved.get(step)
        return cell if cell is not None and cell.argv == portable(argv[step], folder, package) else None

    def run(step):
        if build:
            build()
        (folder / "runs").mkdir(parents=True, exist_ok=True)
        row[step] = classify(step, *run_cli(argv[step], folder))
        fresh.add(step)
        _keep(step, row[step])
        if log:
            log(f"{spec.name:26s} {step:9s} {row[step].seconds:6.1f}s  {row[step].text()[:150]}")

    def _keep(step, cell):
        cell.argv = portable(argv[step], folder, package)
        if store:
            store.put(spec.name, step, cell)

    for step in steps:
        need = NEEDS.get(step)
        if not rerun and current(step) is not None and need not in fresh:
            row[step] = current(step)
            continue
        if need and need not in fresh and (current(need) is None or _succeeded(current(need))
                                           and not (folder / "runs" / ARTIFACTS[need]).exists()):
            run(need)  # missing, stale or its output absent here
        if need and not _succeeded(current(need)):
            row[step] = Cell("skipped", f"{need} did not succeed")
            _keep(step, row[step])
        else:
            run(step)
    return row


def _succeeded(cell: Cell | None) -> bool:
    return cell is not None and cell.outcome in ("ok", "fallback")


def counts(matrix: dict[str, dict[str, Cell]], steps: list[str] = STEPS) -> dict[str, dict[str, int]]:
    return {step: {o: sum(1 for row in matrix.values() if step in row and row[step].outcome == o)
                   for o in SYMBOL} for step in steps}


def to_json(matrix: dict[str, dict[str, Cell]]) -> dict:
    return {name: {step: {k: v for k, v in asdict(c).items() if k != "argv"} for step, c in row.items()}
            for name, row in matrix.items()}
