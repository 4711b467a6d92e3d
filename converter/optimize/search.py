"""Find the highest sparsity whose int8 model stays within an accuracy budget.

A bisection over a few candidate sparsities, each pruned with a brief fine-tune, converted to
full int8 and measured on held-out data against the float model; the chosen sparsity is then
trained fully by the caller. The curve (sparsity, accuracy, gzip size) goes into the report.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..verify.measure import gzip_size
from ..inputs.data import Dataset
from ..errors import CheckFailed, DataError
from ..export.tflite import ConvertOptions, convert
from ..targets.host import HostSession
from ..targets.keras import KerasSession
from ..verify.compare import compare
from .prune import PruneOptions, prune

CANDIDATES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass
class SearchResult:
    chosen: float
    float_accuracy: float
    curve: list[dict]  # evaluated candidates, in sparsity order


def search_sparsity(model, train: Dataset, validation: Dataset, max_drop: float, options: PruneOptions,
                    candidates: tuple[float, ...] = CANDIDATES, brief_epochs: int = 2) -> SearchResult:
    """`max_drop` in accuracy fraction (0.01 = 1 point)."""
    if validation.y is None:
        raise DataError(f"{validation.source} has no labels, which the sparsity search needs",
                        hint="give labelled validation data (an .npz with x and y)")
    float_accuracy = compare(KerasSession(model), KerasSession(model), validation).reference_accuracy
    results: dict[float, dict] = {}
    lo, hi = 0, len(candidates) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        point = _evaluate(model, train, validation, candidates[mid], options, brief_epochs, float_accuracy, max_drop)
        results[candidates[mid]] = point
        lo, hi = (mid + 1, hi) if point["within_budget"] else (lo, mid - 1)
    good = [s for s, p in results.items() if p["within_budget"]]
    curve = [results[s] for s in sorted(results)]
    if not good:
        raise CheckFailed(f"no sparsity from {candidates[0]:.0%} keeps the int8 accuracy drop within "
                          f"{max_drop * 100:.2f} points (curve: {_describe(curve)})",
                          hint="raise --max-accuracy-drop, train longer, or prune fewer layers")
    return SearchResult(max(good), float_accuracy, curve)


def _evaluate(model, train, validation, sparsity, options, epochs, float_accuracy, max_drop) -> dict:
    brief = replace(options, sparsity=sparsity, train=replace(options.train, epochs=epochs))
    pruned = prune(model, train, brief).model
    tflite = convert(pruned, train, ConvertOptions(samples=100, seed=options.train.seed)).tflite
    accuracy = compare(KerasSession(model), HostSession(tflite), validation).candidate_accuracy
    drop = float_accuracy - accuracy
    return {"sparsity": sparsity, "int8_accuracy": accuracy, "accuracy_drop": drop,
            "gzip_bytes": gzip_size(tflite), "within_budget": drop <= max_drop}


def _describe(curve: list[dict]) -> str:
    return ", ".join(f"{p['sparsity']:.0%}: -{p['accuracy_drop'] * 100:.2f}" for p in curve)
