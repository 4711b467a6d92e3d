"""The search loop: as many trials in flight as the executor has slots, each through Optuna's
own `optimize` (one trial per call, in a thread: the heartbeat, the stale-trial check and the
queued trials are Optuna's), until the study holds the trials asked for. A trial's settings
are sampled here; it runs wherever the executor runs it."""
from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..report.budgets import Budgets
from .objectives import constraints, values
from .space import apply
from .study import tally
from .trial import TrialSpec

_POLL_SECONDS = 2.0
ESTIMATED_TARGET = "ethosu"  # the one target without a runtime here whose latency is estimated (Vela)


class TrialFailed(Exception):
    """The trial failed on its own (recorded in its user attributes): done, not retried."""


@dataclass
class Search:
    study: object
    recipe: object  # the base recipe, with its search section
    budgets: Budgets
    folder: Path
    executor: object
    trials: int
    target: str | None = None
    trust_model: bool = False
    code: tuple[str, ...] = ()
    on_trial: Callable[[object], None] = lambda frozen: None  # after each trial ends, in the main thread

    def __post_init__(self):
        self._stopping = threading.Event()
        self._ours: set[int] = set()
        self._lock = threading.Lock()

    def run(self) -> None:
        slots = self.executor.slots
        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="edgeconv-trial") as pool:
            futures: set = set()
            try:
                while True:
                    count = tally(self.study)
                    with self._lock:
                        others = len(count.running - self._ours)
                    need = self.trials - len(count.done) - len(futures) - others
                    while need > 0 and len(futures) < slots:
                        futures.add(pool.submit(self._one_trial))
                        need -= 1
                    if not futures and (len(count.done) >= self.trials or not others):
                        return
                    if not futures:  # the rest are another driver's: wait, and fail them if that driver died
                        time.sleep(_POLL_SECONDS)
                        _fail_stale(self.study)
                        continue
                    finished, futures = wait(futures, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                    for f in finished:
                        self.on_trial(f.result())
            except BaseException:
                self._stopping.set()
                self.executor.stop()
                raise

    def _one_trial(self):
        """One trial through Optuna's optimize; returns it as stored."""
        numbers = []

        def objective(trial):
            numbers.append(trial.number)
            with self._lock:
                self._ours.add(trial.number)
            try:
                return self._objective(trial)
            finally:
                with self._lock:
                    self._ours.discard(trial.number)

        self.study.optimize(objective, n_trials=1, catch=(Exception,))
        return next((t for t in self.study.get_trials(deepcopy=False) if numbers and t.number == numbers[0]), None)

    def _objective(self, trial):
        import optuna

        try:
            settings = self.recipe.search.sample(trial)
            folder = self.folder / "trials" / f"{trial.number:04d}"
            recipe = trial_recipe(self.recipe, settings, self.budgets, self.target, trial.number)
        except InputError as e:  # a combination the load-time check could not try (a large space)
            trial.set_user_attr("state", "failed")
            trial.set_user_attr("reason", e.message)
            raise TrialFailed(e.message) from None
        cluster = self.executor.where != "local"
        spec = TrialSpec(trial.number, recipe, folder.resolve(), self.budgets, self.trust_model, self.code,
                         threads=1 if cluster else None, pin=cluster, vela=self.target == ESTIMATED_TARGET)
        trial.set_user_attr("settings", settings)
        trial.set_user_attr("folder", str(Path("trials") / folder.name))
        try:
            result = self.executor.run(spec)
        except BaseException as e:  # interrupted, or its process lost: queued again on resume
            trial.set_user_attr("retry", True)
            trial.set_user_attr("state", "interrupted" if self._stopping.is_set() else "lost")
            trial.set_user_attr("reason", str(e) or type(e).__name__)
            raise
        for key in ("state", "reason", "figures", "host", "cores", "start", "end", "pid"):
            trial.set_user_attr(key, getattr(result, key))
        for key, value in constraints(result.figures, self.budgets).items():
            trial.set_constraint(key, value)
        if result.state == "stopped":
            raise optuna.TrialPruned(result.reason)
        if result.state == "failed":
            raise TrialFailed(result.reason)
        return values(result.figures)


def trial_recipe(base, settings: dict, budgets: Budgets, target: str | None, number: int):
    """The plain recipe of one trial: the sampled settings, the study's budgets, validation on
    the study's target in one process (the trial has its core; a second would share it). On
    ethosu, which runs nothing here, validation stays on the host (accuracy) and an `ethosu`
    step gives Vela's latency estimate."""
    from ..pipeline.steps.ethosu import EthosUConfig
    from ..pipeline.steps.validate import ValidateConfig

    recipe = apply(base, settings)
    stages = [s for s in recipe.stages if not isinstance(s, ValidateConfig)]
    validate = recipe.stage("validate") or ValidateConfig()
    estimated = target == ESTIMATED_TARGET
    validate = replace(validate, target="host" if estimated else target or validate.target, workers=1)
    at = next(i for i, s in enumerate(recipe.stages) if isinstance(s, ValidateConfig)) \
        if recipe.stage("validate") else len(stages)
    stages.insert(at, validate)
    if estimated and recipe.stage("ethosu") is None:
        stages.insert(at + 1, EthosUConfig())
    return replace(recipe, name=f"{base.name}-trial-{number:04d}", stages=tuple(stages), budgets=budgets)


def _fail_stale(study) -> None:
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)
