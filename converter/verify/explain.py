"""LIME explanations over any Session, and explanation drift between a float reference and a
quantized candidate: quantization can keep accuracy while changing *why* a model decides.

Image models use lime_image with a grid segmentation (works for tiny and grayscale inputs);
flat inputs use lime_tabular. Deterministic: every sample gets fresh explainers seeded from
(seed, sample index) and NumPy's global RNG is pinned around LIME, which also draws from it.
All perturbations of a sample go to the Session in one batch.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..inputs.data import Dataset
from ..errors import InputError
from ..settings import SettingError
from ..report import Report

os.environ.setdefault("TQDM_DISABLE", "1")  # lime_image draws a progress bar per sample on stderr


@dataclass(frozen=True)
class ExplainOptions:
    samples: int = 10  # data samples explained
    num_samples: int = 1000  # LIME perturbations per sample
    top_k: int = 5
    seed: int = 0
    segments: int = 16  # target number of image segments

    def __post_init__(self):
        if self.samples < 1 or self.num_samples < 10 or self.top_k < 1:
            raise SettingError("explain needs samples >= 1, num_samples >= 10 and top_k >= 1",
                               hint="e.g. samples 10, num_samples 1000")


@dataclass(frozen=True)
class SampleDrift:
    index: int
    label: int  # the class explained: the reference's top-1
    top_k_overlap: float  # |top-k(ref) ∩ top-k(cand)| / k
    rank_correlation: float  # Spearman over all feature weights


@dataclass
class DriftResult:
    samples: list[SampleDrift]
    reference_weights: list[np.ndarray]
    candidate_weights: list[np.ndarray]
    seconds: float
    predictions: int

    @property
    def mean_overlap(self) -> float:
        return float(np.mean([s.top_k_overlap for s in self.samples]))

    def summary(self) -> dict:
        return {"samples": len(self.samples), "mean_top_k_overlap": self.mean_overlap,
                "min_top_k_overlap": float(min(s.top_k_overlap for s in self.samples)),
                "mean_rank_correlation": float(np.mean([s.rank_correlation for s in self.samples])),
                "explanations_per_s": 2 * len(self.samples) / self.seconds,
                "predictions_per_s": self.predictions / self.seconds,
                "per_sample": [asdict(s) for s in self.samples]}


def class_probabilities(session):
    """LIME wants probabilities of the first output; logits are softmaxed. One value per sample
    is a binary classifier's P(class 1) (a logit through a sigmoid): [1 - p, p], not a softmax
    of one column, which is 1 whatever the input and explains nothing."""
    def predict(batch: np.ndarray) -> np.ndarray:
        out = next(iter(session.predict([batch.astype(np.float32)]).values()))
        out = out.reshape(len(out), -1).astype(np.float64)
        if out.shape[1] == 1:
            p = out if np.all((out >= 0) & (out <= 1)) else 1 / (1 + np.exp(-out))
            return np.concatenate([1 - p, p], axis=1)
        if np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, atol=1e-2):
            return out
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return predict


def grid_segments(height: int, width: int, target: int) -> np.ndarray:
    """Square cells, about `target` of them: superpixel methods find nothing on 8x8 digits."""
    cell = max(1, int(round(np.sqrt(height * width / target))))
    rows, cols = np.indices((height, width)) // cell
    return rows * (-(-width // cell)) + cols


@contextlib.contextmanager
def _pinned_numpy_rng(seed: int):
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


class _Counter:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, batch):
        self.calls += len(batch)
        return self.fn(batch)


def explain(predict, x: np.ndarray, label: int, options: ExplainOptions, seed: int,
            background: np.ndarray | None = None) -> np.ndarray:
    """Feature (segment or column) weights of `label` for one sample."""
    with _pinned_numpy_rng(seed):
        if x.ndim == 3:
            return _explain_image(predict, x, label, options, seed)
        return _explain_tabular(predict, x, label, options, seed, background)


def _explain_image(predict, x: np.ndarray, label: int, options: ExplainOptions, seed: int) -> np.ndarray:
    from lime import lime_image

    channels = x.shape[-1]
    segments = grid_segments(x.shape[0], x.shape[1], options.segments)
    image = np.repeat(x, 3, axis=-1) if channels == 1 else x  # LIME perturbs RGB images

    def classifier(batch):  # back to the model's own channel count
        return predict(batch[..., :1] if channels == 1 else batch)

    explainer = lime_image.LimeImageExplainer(random_state=seed)
    exp = explainer.explain_instance(image.astype(np.float64), classifier, labels=(label,), top_labels=None,
                                     hide_color=0, num_samples=options.num_samples, batch_size=options.num_samples,
                                     segmentation_fn=lambda _: segments, random_seed=seed)
    return _dense(exp.local_exp[label], int(segments.max()) + 1)


def _explain_tabular(predict, x: np.ndarray, label: int, options: ExplainOptions, seed: int,
                     background: np.ndarray) -> np.ndarray:
    from lime import lime_tabular

    explainer = lime_tabular.LimeTabularExplainer(background, mode="classification", discretize_continuous=False,
                                                  random_state=seed)
    exp = explainer.explain_instance(x, predict, labels=(label,), num_features=x.shape[0],
                                     num_samples=options.num_samples)
    return _dense(exp.local_exp[label], x.shape[0])


def _dense(pairs, n: int) -> np.ndarray:
    w = np.zeros(n)
    for feature, weight in pairs:
        w[feature] = weight
    return w


def drift(ref: np.ndarray, cand: np.ndarray, k: int) -> tuple[float, float]:
    from scipy.stats import spearmanr

    k = min(k, len(ref))
    top = lambda w: set(np.argsort(-np.abs(w), kind="stable")[:k])  # noqa: E731
    overlap = len(top(ref) & top(cand)) / k
    if np.array_equal(ref, cand):
        return overlap, 1.0
    rho = spearmanr(ref, cand).statistic
    return overlap, float(0.0 if np.isnan(rho) else rho)


def explain_drift(reference, candidate, data: Dataset, options: ExplainOptions = ExplainOptions()) -> DriftResult:
    import time

    x = _explainable(data, options)
    picked = np.random.default_rng(options.seed).choice(len(x), size=min(options.samples, len(x)), replace=False)
    ref_fn, cand_fn = _Counter(class_probabilities(reference)), _Counter(class_probabilities(candidate))
    background = x if x.ndim == 2 else None
    start = time.perf_counter()
    samples, ref_w, cand_w = [], [], []
    for n, i in enumerate(sorted(picked)):
        label = int(ref_fn(x[i:i + 1]).argmax())
        seed = options.seed * 100_003 + n
        ref_w.append(explain(ref_fn, x[i], label, options, seed, background))
        cand_w.append(explain(cand_fn, x[i], label, options, seed, background))
        samples.append(SampleDrift(int(i), label, *drift(ref_w[-1], cand_w[-1], options.top_k)))
    return DriftResult(samples, ref_w, cand_w, time.perf_counter() - start, ref_fn.calls + cand_fn.calls)


def _explainable(data: Dataset, options: ExplainOptions) -> np.ndarray:
    """The samples as one array LIME can perturb, or a clear refusal: LIME explains one input,
    and a top-k overlap of k or fewer features (columns, or image segments) is 1 whatever the
    models do."""
    if len(data.inputs) > 1:
        raise InputError(f"explanations need a model with one input; this one takes {len(data.inputs)}",
                         hint="LIME perturbs one image or one row of features: explain a single-input model")
    x = np.asarray(data.inputs[0], np.float32)
    if x.ndim not in (2, 4):
        raise InputError(f"explanations need images (N, H, W, C) or tabular rows (N, F), got samples of {x.shape[1:]}",
                         hint="give image or tabular data")
    features = x.shape[1] if x.ndim == 2 else int(grid_segments(x.shape[1], x.shape[2], options.segments).max()) + 1
    top_k = options.top_k
    if features <= top_k:
        what = "feature(s)" if x.ndim == 2 else "image segment(s)"
        raise InputError(f"the samples have {features} {what}, not more than top_k={top_k}: every top-{top_k} "
                         "overlap would be 1 whatever the models compute",
                         hint=f"lower --top-k below {features}" if features > 1 else "explanations need at least 2 features")
    return x


def explain_stage(reference, candidate, data: Dataset, options: ExplainOptions, report: Report,
                  figures: Path | None = None, min_agreement: float | None = None) -> DriftResult:
    """The hook a pipeline calls after conversion: drift table, figures, optional budget."""
    result = explain_drift(reference, candidate, data, options)
    report.add("explanation", top_k=options.top_k, num_samples=options.num_samples, seed=options.seed,
               **result.summary())
    if figures is not None:
        from .explain_figures import write_figures

        report.add("explanation", figures=write_figures(figures, data, result))
    if min_agreement is not None:
        report.check("explanation agreement", result.mean_overlap >= min_agreement,
                     f"mean top-{options.top_k} overlap {result.mean_overlap:.2f} (budget ≥ {min_agreement:g})")
    return result
