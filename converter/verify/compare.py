"""Compare a candidate Session with a reference Session on the same data.

Outputs are matched by name, then by shape, never by position (TFLite may reorder them).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..inputs.data import Dataset, checked_labels, class_count, in_order, predicted_classes
from ..errors import InputError
from ..targets.base import SampleFailure


@dataclass(frozen=True)
class OutputError:
    reference: str
    candidate: str
    max_abs: float
    mean_abs: float
    cosine: float
    snr_db: float
    constant: bool = False  # the candidate gives the same output for every sample; the reference does not


@dataclass(frozen=True)
class Validation:
    samples: int
    reference_accuracy: float | None
    candidate_accuracy: float | None
    agreement: float | None  # share of samples whose top-1 class (first output) is the same; None
    # for a regression: one value per sample that is neither a probability nor scored against labels
    outputs: tuple[OutputError, ...]
    reference_top5: float | None = None
    candidate_top5: float | None = None
    failures: tuple[SampleFailure, ...] = ()  # samples the candidate runtime could not run

    @property
    def accuracy_drop(self) -> float | None:
        if self.reference_accuracy is None:
            return None
        return self.reference_accuracy - self.candidate_accuracy

    def to_dict(self) -> dict:
        d = asdict(self)
        d["accuracy_drop"] = self.accuracy_drop
        return d


def match_outputs(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    """Pair outputs by exact name, then the remaining ones by unique shape."""
    pairs = [(n, n) for n in reference if n in candidate]
    ref_left = [n for n in reference if n not in candidate]
    cand_left = [n for n in candidate if n not in reference]
    for r in ref_left:
        same = [c for c in cand_left if candidate[c].shape == reference[r].shape]
        if len(same) != 1:
            raise InputError(f"cannot match reference output '{r}' {reference[r].shape} to a candidate output "
                             f"(candidates: {', '.join(f'{c} {candidate[c].shape}' for c in cand_left) or 'none'})",
                             hint="the two models must have the same outputs")
        pairs.append((r, same[0]))
        cand_left.remove(same[0])
    return pairs


def compare(reference, candidate, data: Dataset, names: list[str] | None = None) -> Validation:
    """Metrics over the samples both sides ran; samples the candidate failed on are listed.
    `names` are the data's input names in order (default: the reference's)."""
    ref_names, cand_names = getattr(reference, "input_names", None), getattr(candidate, "input_names", None)
    names = names or ref_names
    ref, _ = _predict(reference, in_order(data.inputs, names, ref_names), "running the reference")
    cand, failures = _predict(candidate, in_order(data.inputs, names, cand_names), "running the candidate")
    pairs = match_outputs(ref, cand)
    ok = np.ones(len(data), bool)
    ok[[f.index for f in failures]] = False
    if not ok.any():
        raise InputError(f"the candidate failed on every sample (first: sample {failures[0].index}, op "
                         f"{failures[0].op}: {failures[0].message})", hint="see `edgeconv inspect` for the op")
    errors = tuple(_output_error(r, c, ref[r][ok], cand[c][ok]) for r, c in pairs)
    first_ref, first_cand = ref[pairs[0][0]][ok], cand[pairs[0][1]][ok]
    if first_ref.ndim == 2:  # the scored output is known now, also for several outputs
        data = checked_labels(data, class_count([first_ref.shape]))
    labels = data.y[ok] if data.y is not None and first_ref.ndim == 2 else None
    threshold = _binary_threshold(first_ref, labels)
    return Validation(
        samples=int(ok.sum()),
        reference_accuracy=_top_k(first_ref, labels, 1, threshold),
        candidate_accuracy=_top_k(first_cand, labels, 1, threshold),
        agreement=_agreement(first_ref, first_cand, threshold),
        outputs=errors,
        reference_top5=_top_k(first_ref, labels, 5, threshold),
        candidate_top5=_top_k(first_cand, labels, 5, threshold),
        failures=failures,
    )


CHUNK = 256  # samples per predict call: the progress bar moves, and a worker's reply stays small


def _predict(session, inputs: list[np.ndarray], doing: str) -> tuple[dict[str, np.ndarray], tuple[SampleFailure, ...]]:
    """All outputs, in chunks; the failures of this run with their indices in `inputs`."""
    from ..progress import task

    count, outputs, failures = len(inputs[0]), [], []
    with task(doing, count if count > CHUNK else 0) as advance:
        for start in range(0, count, CHUNK):
            seen = len(session.failures)
            outputs.append(session.predict([x[start:start + CHUNK] for x in inputs]))
            failures += [SampleFailure(f.index + start, f.op, f.message) for f in session.failures[seen:]]
            advance(min(CHUNK, count - start))
    return {name: np.concatenate([o[name] for o in outputs]) for name in outputs[0]}, tuple(failures)


def _binary_threshold(ref: np.ndarray, labels: np.ndarray | None) -> float | None:
    """For an output of one value per sample read as a binary classifier's score (labels
    came with the data, or the values are probabilities): class 1 above 0.5 for
    probabilities, above 0 for logits. None otherwise (several classes, or a regression)."""
    if ref.reshape(len(ref), -1).shape[1] != 1:
        return None
    probabilities = bool(ref.min() >= 0 and ref.max() <= 1)
    if labels is None and not probabilities:
        return None
    return 0.5 if probabilities else 0.0


def _is_regression(out: np.ndarray, threshold: float | None) -> bool:
    return threshold is None and out.reshape(len(out), -1).shape[1] == 1


def _agreement(ref: np.ndarray, cand: np.ndarray, threshold: float | None) -> float | None:
    """Share of samples with the same top-1 class; None for a regression (no class)."""
    if _is_regression(ref, threshold):
        return None
    return float(np.mean(_top1(ref, threshold) == _top1(cand, threshold)))


def _top1(out: np.ndarray, threshold: float | None = None) -> np.ndarray:
    flat = out.reshape(len(out), -1)
    return predicted_classes(flat, threshold) if threshold is not None else flat.argmax(axis=1)


def _top_k(out: np.ndarray, labels: np.ndarray | None, k: int, threshold: float | None = None) -> float | None:
    """Share of samples whose label is among the k highest scores (None without labels or
    when there are not more than k classes, where top-k says nothing)."""
    classes = 2 if threshold is not None else out.reshape(len(out), -1).shape[1]
    if labels is None or (k > 1 and classes <= k) or _is_regression(out, threshold):
        return None
    if k == 1:
        return float(np.mean(_top1(out, threshold) == labels))
    top = np.argsort(-out.reshape(len(out), -1), axis=1, kind="stable")[:, :k]
    return float(np.mean((top == labels[:, None]).any(axis=1)))


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per sample; 1 when both are zero, 0 when only one is (an all-zero output shares no
    direction with a live one)."""
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both = (na > 0) & (nb > 0)
    cosine = np.sum(a * b, axis=1) / np.where(both, na * nb, 1)
    return np.where(both, cosine, np.where((na > 0) | (nb > 0), 0.0, 1.0))


def _output_error(ref_name: str, cand_name: str, ref: np.ndarray, cand: np.ndarray) -> OutputError:
    a = ref.reshape(len(ref), -1).astype(np.float64)
    b = cand.reshape(len(cand), -1).astype(np.float64)
    diff = np.abs(a - b)
    cosine = _cosine(a, b)
    noise = np.sum((a - b) ** 2)
    snr = float("inf") if noise == 0 else 10 * np.log10(np.sum(a ** 2) / noise)
    constant = len(b) > 1 and bool(np.all(b == b[0])) and not np.all(a == a[0])
    return OutputError(ref_name, cand_name, float(diff.max()), float(diff.mean()), float(cosine.mean()), float(snr),
                       constant)
