"""What a study found: every trial as a row, the Pareto front of the feasible ones, the chosen
trial, and the study's report (a table of the front and its plot; every trial's own report is
in its folder).

The chosen trial: among the completed trials that meet every budget, the highest accuracy;
ties go to the lowest latency, then the smallest arena, then the smallest flash, then the
earliest trial."""
from __future__ import annotations

from dataclasses import dataclass

from ..report import Report
from .objectives import dominates

RULE = "the most accurate trial that fits every budget; ties: lowest latency, then arena, then flash"


@dataclass
class Outcome:
    rows: list[dict]  # one per trial, in trial order
    front: list[dict]  # feasible completed trials no other feasible trial dominates
    best: dict | None
    retried: int  # trials run again after an interruption or a lost process

    @property
    def done(self) -> int:
        return sum(r["state"] in ("complete", "stopped", "failed") and not r["retried"] for r in self.rows)


def outcome(study) -> Outcome:
    from .study import retried

    trials = study.get_trials(deepcopy=False)
    again = retried(trials)
    rows = [_row(t, t.number in again) for t in trials if t.user_attrs.get("state")]
    _mark_load(rows)
    feasible = [r for r in rows if r["state"] == "complete" and r["feasible"]]
    front = [r for r in feasible if not any(dominates(o["figures"], r["figures"]) for o in feasible)]
    best = min(feasible, key=_rank) if feasible else None
    return Outcome(rows, sorted(front, key=_rank), best, len(again))


def _row(trial, was_retried: bool) -> dict:
    attrs = trial.user_attrs
    return {"trial": trial.number, "state": attrs["state"], "figures": attrs.get("figures", {}),
            "feasible": all(v <= 0 for v in trial.constraints.values()), "settings": attrs.get("settings", {}),
            "reason": attrs.get("reason", ""), "folder": attrs.get("folder"), "host": attrs.get("host"),
            "cores": attrs.get("cores", "shared"), "start": attrs.get("start"), "end": attrs.get("end"),
            "retried": was_retried, "retry_of": attrs.get("retry_of")}


def _rank(row: dict):
    f = row["figures"]
    return -f["accuracy"], f["latency_ms"], f["arena_kb"], f["flash_kb"], row["trial"]


def _mark_load(rows: list[dict]) -> None:
    """beside: how many other trials ran on the same machine while this one ran (its latency
    was timed under that load; on cores of its own when `cores` names them)."""
    for r in rows:
        r["beside"] = sum(1 for o in rows if o is not r and o["host"] == r["host"] and o["start"] and r["start"]
                          and o["start"] < r["end"] and r["start"] < o["end"])


def settings_text(settings: dict) -> str:
    parts = []
    for step, values in settings.items():
        if values is None:
            parts.append(f"no {step}")
        elif values:
            parts.append(f"{step} " + ", ".join(f"{k}={_short(v)}" for k, v in values.items()))
    return "; ".join(parts) or "the recipe as written"


def _short(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def record(row: dict) -> dict:
    """A trial as a report table row, in the units the report formats by name."""
    f = row["figures"]
    out = {"trial": row["trial"], "state": row["state"] + (" (retried)" if row["retried"] else "")}
    if "accuracy" in f:
        out["accuracy"] = f["accuracy"] / 100
    if "latency_ms" in f:
        out["latency_ms"] = f["latency_ms"]
    if "arena_kb" in f:
        out["arena_bytes"] = f["arena_kb"] * 1024
    if "flash_kb" in f:
        out["flash_bytes"] = f["flash_kb"] * 1024
    out["fits"] = row["feasible"] if row["state"] != "failed" else None
    out["settings"] = settings_text(row["settings"])
    if row["reason"]:
        out["note"] = row["reason"]
    return out


def study_report(result: Outcome, about: dict) -> Report:
    """The study's report: what was searched and how, the front, every trial, the choice."""
    report = Report(f"edgeconv tune {about['recipe']}")
    counts = {s: sum(r["state"] == s and not r["retried"] for r in result.rows) for s in ("complete", "stopped",
                                                                                          "failed")}
    report.add("tune", **about, trials_complete=counts["complete"], trials_stopped_early=counts["stopped"],
               trials_failed=counts["failed"], trials_retried=result.retried, choice=RULE,
               chosen_trial=result.best["trial"] if result.best else None,
               pareto_front=[record(r) for r in result.front], trials=[record(r) for r in result.rows])
    load = _load_note(result.rows)
    if load:
        report.warn(load)
    if result.best:
        report.check("a model fits the budgets", True, f"trial {result.best['trial']}: {_figures_text(result.best)}")
    else:
        report.check("a model fits the budgets", False, f"none of {result.done} trials meets every budget")
    return report


def _figures_text(row: dict) -> str:
    from ..report.units import duration, size

    f = row["figures"]
    return (f"{f['accuracy']:.2f}% accuracy, {duration(f['latency_ms'])} on {f.get('latency_on', 'the target')}, "
            f"arena {size(f['arena_kb'] * 1024)}, flash {size(f['flash_kb'] * 1024)}")


def _load_note(rows: list[dict]) -> str:
    timed = [r for r in rows if r["state"] == "complete"]
    loaded = [r for r in timed if r["beside"]]
    if not loaded:
        return ""
    pinned = all(r["cores"] != "shared" for r in loaded)
    return (f"{len(loaded)} of {len(timed)} trials ran beside another trial on the same machine: their latency was "
            "measured under load" + (", each trial on cores of its own" if pinned else ", on shared cores"))


def summary(result: Outcome, about: dict, best_recipe: str | None) -> dict:
    """The --json document."""
    return {"study": about, "trials": {"done": result.done, "retried": result.retried,
                                       "complete": sum(r["state"] == "complete" for r in result.rows)},
            "choice": RULE, "best": _plain(result.best), "best_recipe": best_recipe,
            "pareto_front": [_plain(r) for r in result.front], "all": [_plain(r) for r in result.rows]}


def _plain(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {k: row[k] for k in ("trial", "state", "figures", "feasible", "settings", "reason", "folder", "retried",
                                "beside", "cores")}
