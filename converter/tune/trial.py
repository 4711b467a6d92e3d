"""One trial, as a worker process runs it: the recipe with the trial's settings, run by the
pipeline runner into its own folder (trials/NNNN), stopped as soon as a cheap figure shows it
cannot fit a budget; what comes back is plain data for the study."""
from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConverterError
from ..report.budgets import Budgets
from .objectives import CHEAP, LIMITS, figures, violations


@dataclass(frozen=True)
class TrialSpec:
    number: int
    recipe: object  # the plain Recipe this trial runs (no search section)
    folder: Path  # absolute: a cluster's workers see the same file system
    budgets: Budgets
    trust_model: bool = False
    code: tuple[str, ...] = ()
    threads: int | None = None  # TensorFlow's threads in this process (None: TensorFlow's default)
    pin: bool = False  # claim a core of its own for each thread (cluster workers)
    vela: bool = False  # latency is Vela's estimate (target ethosu), also taken before training


@dataclass
class TrialResult:
    number: int
    state: str  # "complete", "stopped" (a cheap figure misses a budget) or "failed"
    figures: dict = field(default_factory=dict)
    reason: str = ""  # why it stopped, or the error
    host: str = ""
    pid: int = 0
    cores: str = ""  # the cores it ran on: "2" pinned, "shared" when none could be claimed
    start: float = 0.0
    end: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def run_trial(spec: TrialSpec) -> TrialResult:
    """Never raises for a trial's own failure (a bad combination, a model TFLite refuses): that
    is a failed trial. An interruption or a dead process is not a result: the study retries it."""
    from .worker import prepare_process

    cores = prepare_process(spec.threads, spec.pin)
    result = TrialResult(spec.number, "failed", host=socket.gethostname(), pid=os.getpid(), cores=cores,
                         start=time.time())
    _remove_stale_staging(spec.folder)
    try:
        _run(spec, result)
    except ConverterError as e:
        result.state, result.reason = "failed", e.message + (f" ({e.hint})" if e.hint else "")
    except Exception as e:  # noqa: BLE001 - a bug fails this trial, not the study (and is not retried forever)
        result.state, result.reason = "failed", f"unexpected {type(e).__name__}: {e} (a bug in edgeconv)"
    finally:
        from .. import keras_env

        keras_env.clear_session()  # the next trial in this process starts from a clean graph
        keras_env.release_graphs()
    result.end = time.time()
    return result


def _run(spec: TrialSpec, result: TrialResult) -> None:
    from ..logs import native_logs_to_file
    from ..pipeline.runner import run_recipe
    from ..report.summary import candidate_of

    stop = _Checkpoints(spec.recipe, spec.budgets, spec.vela)
    with native_logs_to_file():
        report = run_recipe(spec.recipe, spec.folder, force=True, trust_model=spec.trust_model, code=spec.code,
                            title=f"edgeconv tune: trial {spec.number}", stop=stop)
    if "stopped" in report.sections:
        result.state, result.reason, result.figures = "stopped", report.sections["stopped"]["reason"], stop.found
        return
    found = figures(report, candidate_of(report), spec.vela)
    missing = [name for name in ("accuracy", "latency_ms", "arena_kb", "flash_kb") if name not in found]
    if missing:
        v = report.sections.get("validation", {})
        regression = "accuracy" in missing and "agreement" in v and v["agreement"] is None
        raise ConverterError(f"trial {spec.number} measured no {', '.join(missing)}",
                             hint="the model's output is a regression (one value per sample): tune ranks trials by "
                                  "accuracy, so it needs a classifier" if regression else
                                  "the recipe needs a validate step with labelled data on a target that times")
    result.state, result.figures = "complete", found


class _Checkpoints:
    """The runner's stop hook: before the steps, the untrained structure's flash and arena (and
    Vela's latency estimate on ethosu); after convert, the converted model's (and its host
    latency when the target is the host)."""

    def __init__(self, recipe, budgets: Budgets, vela: bool = False):
        self.recipe, self.budgets, self.vela, self.found = recipe, budgets, vela, {}
        self.early = CHEAP + (("latency_ms",) if vela else ())  # the figures known before training

    def __call__(self, context, after: str) -> str | None:
        if after == "inputs" and any(getattr(self.budgets, b) is not None for b, f in LIMITS.items() if f in self.early):
            from .preflight import preflight

            self.found = preflight(context, self.recipe, self.vela)
            context.report.add("preflight", **self.found, model="the final structure, untrained")
            missed = violations(self.found, self.budgets, self.early)
            return f"before training, the structure misses its budget: {'; '.join(missed)}" if missed else None
        if after == "convert":
            from ..tflite.kind import kind_of

            self.found = {**self.found, **figures(context.report, kind_of(context.tflite.read()), self.vela)}
            known = CHEAP + (("latency_ms",) if _host_target(self.recipe) and not self.vela else ())
            missed = violations(self.found, self.budgets, known)
            return f"after conversion: {'; '.join(missed)}" if missed else None
        return None


def _host_target(recipe) -> bool:
    validate = recipe.stage("validate")
    return validate is None or validate.target == "host"


def _remove_stale_staging(folder: Path) -> None:
    """A trial retried after its process died left its staging folder: it is this trial's."""
    for stale in folder.parent.glob(f".{folder.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
