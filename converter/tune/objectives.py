"""What a trial is judged on: its figures read from its run's Report, the study's objectives
and the budgets as Optuna constraints (a value <= 0 is feasible)."""
from __future__ import annotations

from ..report import Report
from ..report.budgets import Budgets, arena_bytes

# (figure, direction): the order of a trial's values in the study
OBJECTIVES = (("accuracy", "maximize"), ("latency_ms", "minimize"), ("arena_kb", "minimize"), ("flash_kb", "minimize"))
DIRECTIONS = [d for _, d in OBJECTIVES]
# budget -> the figure it limits
LIMITS = {"max_latency_ms": "latency_ms", "max_arena_kb": "arena_kb", "max_size_kb": "flash_kb",
          "max_accuracy_drop": "accuracy_drop"}
CHEAP = ("arena_kb", "flash_kb")  # known from the model's structure, before any training


def figures(report: Report, model: str | None, vela: bool = False) -> dict:
    """accuracy (%, the task's top-1; agreement with the reference when the data has no labels),
    accuracy_drop (points), latency_ms (p50 on the target, or with `vela` the ethosu step's
    estimate), arena_kb (with its source) and flash_kb of `model` (the converted model's kind),
    for those the run measured."""
    out = {}
    v = report.sections.get("validation", {})
    if v.get("candidate_accuracy") is not None:
        out["accuracy"], out["metric"] = v["candidate_accuracy"] * 100, "accuracy"
    elif v.get("agreement") is not None:
        out["accuracy"], out["metric"] = v["agreement"] * 100, "agreement with the reference"
    if v.get("accuracy_drop") is not None:
        out["accuracy_drop"] = v["accuracy_drop"] * 100
    latency = report.model_figures("latency", model)
    if vela:
        out.update(vela_latency(report.sections.get("ethosu", {})))
    elif "p50_ms" in latency:
        out["latency_ms"], out["latency_on"] = latency["p50_ms"], latency.get("runtime", "host")
    out.update(cheap_figures(report, model))
    return out


def vela_latency(ethosu: dict) -> dict:
    """latency_ms from the `ethosu` step's figures: Vela's estimate (none when no op runs on the NPU)."""
    if ethosu.get("inference_time_ms") is None:
        return {}
    return {"latency_ms": ethosu["inference_time_ms"], "latency_on": f"Vela estimate, {ethosu['accelerator']}"}


def cheap_figures(report: Report, model: str | None) -> dict:
    out = {}
    arena = arena_bytes(report, model)
    if arena is not None:
        out["arena_kb"], out["arena_source"] = arena[0] / 1024, arena[1]
    size = report.model_figures("size", model).get("bytes")
    if size is not None:
        out["flash_kb"] = size / 1024
    return out


def constraints(found: dict, budgets: Budgets) -> dict[str, float]:
    """For each budget whose figure is known: how far over it the figure is, relative to the
    budget (<= 0 fits), so constraints of different units add up fairly in the sampler."""
    out = {}
    for budget, figure in LIMITS.items():
        limit = getattr(budgets, budget)
        if limit is not None and figure in found:
            out[budget] = (found[figure] - limit) / max(limit, 1e-9) if limit else found[figure]
    return out


def violations(found: dict, budgets: Budgets, figures_known=None) -> list[str]:
    """'arena 80.1 KB > 64 KB' for each budget the figures miss (among `figures_known`)."""
    units = {"latency_ms": "ms", "arena_kb": "KB", "flash_kb": "KB", "accuracy_drop": "points"}
    out = []
    for budget, figure in LIMITS.items():
        limit = getattr(budgets, budget)
        if limit is None or figure not in found or (figures_known and figure not in figures_known):
            continue
        if found[figure] > limit:
            out.append(f"{figure.replace('_ms', '').replace('_kb', '').replace('_', ' ')} "
                       f"{found[figure]:.4g} {units[figure]} > {limit:g} {units[figure]}")
    return out


def values(found: dict) -> tuple[float, ...]:
    return tuple(float(found[name]) for name, _ in OBJECTIVES)


def dominates(a: dict, b: dict) -> bool:
    """a is at least as good as b on every objective and better on one."""
    better = worse = False
    for name, direction in OBJECTIVES:
        x, y = (a[name], b[name]) if direction == "minimize" else (-a[name], -b[name])
        better |= x < y
        worse |= x > y
    return better and not worse
