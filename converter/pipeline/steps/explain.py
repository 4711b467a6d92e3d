"""explain: LIME explanations of the reference and the converted model on the same samples,
and how far they drift apart."""
from __future__ import annotations

from dataclasses import dataclass

from ...settings import normalise, setting
from ..context import Context

NAME = "explain"
PHASE = "model"


@dataclass(frozen=True)
class ExplainConfig:
    target: str = setting("host", help="Where the converted model runs for its explanations: host, arm64, micro, "
                                       "or ssh://user@host[:port] (many predictions: the host is fastest).")
    samples: int = setting(10, low=1, help="Samples to explain.")
    num_samples: int = setting(1000, low=10, help="LIME perturbations per sample.")
    top_k: int = setting(5, low=1, help="Features compared between the two explanations.")
    min_explanation_agreement: float | None = setting(None, low=0, high=1,
                                                      help="Budget: mean top-k overlap (0..1); below it exits 1.")

    def __post_init__(self):
        from ...targets.registry import target

        normalise(self, NAME)
        target(self.target)  # an unknown target fails here, before any model loads


def run(context: Context, config: ExplainConfig, figures=None):
    """Adds the `explanation` section, its figures (into `figures`, default the run's
    `explain/` folder) and the agreement check when a budget is set."""
    from ...targets.registry import open_runtime
    from ...verify.explain import ExplainOptions, explain_stage
    from .validate import reference_session

    options = ExplainOptions(config.samples, config.num_samples, config.top_k, context.seed)
    if figures is None and context.folder is not None:
        figures = context.folder / "explain"
    runtime = open_runtime(config.target)
    with reference_session(context) as reference, runtime.open(context.tflite.read()) as candidate:
        return explain_stage(reference, candidate, context.validation, options, context.report, figures=figures,
                             min_agreement=config.min_explanation_agreement)


CONFIG = ExplainConfig
