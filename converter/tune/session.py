"""One `edgeconv tune` run: every cheap check first (recipe, search, target, output folder, the
database, the cluster), then the study folder, the search, and the outputs written atomically:
report.json/md/html (the front and its plot), best.yaml (the chosen trial as a plain recipe)."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..errors import InputError
from ..report.budgets import Budgets
from .outcome import Outcome, outcome, study_report, summary
from .study import STUDY_FILE

_BUDGET_NAMES = {"max_latency_ms": "latency", "max_arena_kb": "arena", "max_size_kb": "flash",
                 "max_accuracy_drop": "accuracy drop"}
ABOUT_FILE = "tune.json"  # what the study is: a folder holding it is a study to resume


@dataclass
class Session:
    recipe: object
    target: str | None
    budgets: Budgets
    out: Path
    storage_url: str | None
    study_name: str
    cluster: str | None
    trust_model: bool
    code: tuple
    executor: object = None
    storage: object = None
    study: object = None
    _lock: object = None

    @classmethod
    def prepare(cls, recipe_name: str, overrides: list[str], target: str | None, budgets: dict, out: Path | None,
                storage_url: str | None, study_name: str | None, cluster: str | None, force: bool,
                trust_model: bool, code: tuple) -> Session:
        from ..pipeline.recipe import load_recipe
        from ..pipeline.runner import recipe_inputs

        recipe = _absolute_inputs(load_recipe(recipe_name, overrides))
        if not recipe.search:
            raise InputError(f"recipe '{recipe.name}' has no search section: nothing to tune",
                             hint="add search: {STEP: {SETTING: [low, high]}} (see recipes/tune-demo.yaml)")
        if target is not None:
            _check_target(target)
        merged = Budgets(**{**asdict(recipe.budgets), **budgets})
        out = Path(out) if out else Path("out") / "tune" / recipe.name
        session = cls(recipe, target, merged, out, storage_url, study_name or recipe.name, cluster, trust_model,
                      tuple(code))
        resume = (out / ABOUT_FILE).is_file() and not force
        if resume:
            session._check_same_storage()
        else:
            from ..output_safety import check_output

            check_output(out, force, {"recipe": recipe_name, **recipe_inputs(recipe)}, folder=True)
        session._connect()
        session._open(resume, force)
        return session

    def _check_same_storage(self) -> None:
        try:
            made = json.loads((self.out / ABOUT_FILE).read_text())
        except (OSError, ValueError):
            raise InputError(f"{self.out / ABOUT_FILE} is not readable: the study folder is damaged",
                             hint="pass --force to start the study over, or give another -o") from None
        here = self.about()
        kept = lambda about: about.get("storage") if "://" in str(about.get("storage")) else "the file study.log"  # noqa: E731
        if kept(made) != kept(here):
            raise InputError(f"the study in {self.out} is kept in {kept(made)}, not in {kept(here)}",
                             hint="resume it with the --storage it was made with, or pass --force to start over")
        if made.get("study") != here["study"]:
            raise InputError(f"the study in {self.out} is named {made.get('study')}, not {here['study']}",
                             hint="resume it with the --study it was made with, or pass --force to start over")

    def _connect(self) -> None:
        """The database and the cluster, before the folder is touched: a bad URL changes nothing."""
        from .study import storage_for

        if self.storage_url:
            self.storage = storage_for(self.out, self.storage_url)
        if self.cluster:
            from .executors import DaskExecutor

            self.executor = DaskExecutor(self.cluster)
        else:
            from .executors import LocalExecutor

            self.executor = LocalExecutor()

    def _open(self, resume: bool, force: bool) -> None:
        from ..output_safety import write_marker
        from .study import delete_study, lock, open_study, storage_for

        if not resume and self.out.exists():
            shutil.rmtree(self.out)  # checked: empty, or edgeconv's own output, and --force given
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock = lock(self.out)
        if self.storage is None:
            self.storage = storage_for(self.out, None)
        elif force:
            delete_study(self.storage, self.study_name)
        if not resume:
            (self.out / ABOUT_FILE).write_text(json.dumps(self.about(), indent=2))
            write_marker(self.out)
        self.study = open_study(self.storage, self.study_name, self.fingerprint(), self.recipe.seed)

    def fingerprint(self) -> dict:
        from ..pipeline.recipe import to_yaml

        return {"recipe": to_yaml(self.recipe), "target": self.target, "budgets": asdict(self.budgets)}

    def about(self) -> dict:
        from .study import redacted

        return {"recipe": self.recipe.name, "study": self.study_name,
                "storage": redacted(self.storage_url) if self.storage_url else str(self.out / STUDY_FILE),
                "ran_on": self.ran_on if self.executor else None, "target": self.target or _validate_target(self.recipe),
                "budgets": self.budgets_text, "searched": ", ".join(self.recipe.search.parameters())}

    @property
    def ran_on(self) -> str:
        if "_ran_on" not in self.__dict__:  # asked once: the cluster's client is closed at the end
            self._ran_on = (f"Dask cluster {self.cluster}, {self.executor.slots} worker processes" if self.cluster
                            else "this machine, one trial at a time")
        return self._ran_on

    @property
    def budgets_text(self) -> str:
        units = {"max_latency_ms": "ms", "max_arena_kb": "KB", "max_size_kb": "KB", "max_accuracy_drop": "points"}
        given = [f"{_BUDGET_NAMES[f.name]} ≤ {getattr(self.budgets, f.name):g} {units[f.name]}"
                 for f in fields(self.budgets) if f.name in units and getattr(self.budgets, f.name) is not None]
        return ", ".join(given) or "none"

    def run(self, trials: int, progress) -> Outcome:
        from .driver import Search
        from .study import requeue

        again = requeue(self.study, own_running=self.storage_url is None)
        if again:
            progress(f"queued again: trial{'s' if len(again) > 1 else ''} {', '.join(map(str, again))} "
                     "(interrupted or lost)")
        Search(self.study, self.recipe, self.budgets, self.out, self.executor, trials, self.target,
               self.trust_model, self.code, on_trial=lambda t: progress(_line(t, trials))).run()
        result = outcome(self.study)
        self._write(result, trials)
        return result

    def _write(self, result: Outcome, trials: int) -> None:
        from ..outputs import write_text
        from ..output_safety import write_marker
        from ..pipeline.recipe import to_yaml
        from ..report.render import to_html, to_markdown
        from .driver import trial_recipe

        report = study_report(result, {**self.about(), "trials_requested": trials})
        if result.best:
            best = trial_recipe(self.recipe, result.best["settings"], self.budgets, self.target, result.best["trial"])
            text = f"# edgeconv tune: trial {result.best['trial']} of {self.recipe.name}\n" + \
                to_yaml(replace(best, name=f"{self.recipe.name}-best"))
            write_text(self.out / "best.yaml", text, force=True)
        for name, text in (("report.json", report.to_json()), ("report.md", to_markdown(report)),
                           ("report.html", to_html(report, self.out))):
            write_text(self.out / name, text, force=True)
        self.report = report
        write_marker(self.out)

    def summary(self, result: Outcome) -> dict:
        return summary(result, self.about(), str(self.out / "best.yaml") if result.best else None)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
        if self._lock is not None:
            self._lock.close()


def _line(frozen, trials: int) -> str:
    if frozen is None:
        return "a trial ended before it started"
    a = frozen.user_attrs
    state, f = a.get("state", "failed"), a.get("figures", {})
    shown = ", ".join(f"{k} {f[k]:.4g}" for k in ("accuracy", "latency_ms", "arena_kb", "flash_kb") if k in f)
    return f"trial {frozen.number}: {state}" + (f" ({shown})" if shown else "") + \
        (f": {a['reason']}" if a.get("reason") and state != "complete" else "")


def _check_target(spec: str) -> None:
    from ..targets.registry import target
    from .driver import ESTIMATED_TARGET

    record = target(spec)
    if record.instead and spec != ESTIMATED_TARGET:
        raise InputError(f"tune cannot measure latency on {spec}: nothing runs it here and nothing estimates it",
                         hint=f"tune for host, arm64, micro, ssh://user@host or {ESTIMATED_TARGET} (Vela's estimate); "
                              f"check the mapping with `{record.instead}`")
    available = record.availability()
    if not available.ok:
        raise InputError(f"tune --target {spec}: {available.reason}", hint=available.install)


def _validate_target(recipe) -> str:
    validate = recipe.stage("validate")
    return validate.target if validate else "host"


def _absolute_inputs(recipe):
    """Trials run in other processes, maybe on other machines of a shared file system."""
    def absolute(value):
        return str(Path(value).resolve()) if value and value != "demo" and Path(value).exists() else value

    return replace(recipe, model=absolute(recipe.model), data=absolute(recipe.data),
                   validation_data=absolute(recipe.validation_data))
