"""qat: quantization-aware training with TFMOT (whole model annotated where TFMOT accepts it,
layer by layer otherwise); pruning-preserving with preserve_sparsity."""
from __future__ import annotations

from dataclasses import dataclass

from ...settings import normalise, setting
from ..context import Context
from . import training

NAME = "qat"
PHASE = "train"


@dataclass(frozen=True)
class QatConfig:
    preserve_sparsity: bool = setting(False, help="Pruning-preserving QAT: pruned weights stay zero.")
    epochs: int = training.epochs(3)
    batch_size: int = training.batch_size()
    learning_rate: float = training.learning_rate(1e-4)
    schedule: str = setting("cosine", choices=("cosine", "constant"),
                            help="Learning rate over training: cosine warms up over the first 5% of steps, "
                                 "then decays to 0.")
    targets: str = setting("auto", choices=("auto", "labels", "teacher"),
                           help="What QAT learns: the data's labels, or the float model's outputs (teacher: "
                                "no labels needed); auto uses labels when the data has them.")
    calibrated_start: bool = setting(True, flag="--calibrated-start/--tfmot-start", help="Start activation ranges at the float model's min/max on "
                                                "the data (TFMOT's own start is [-6, 6]).")

    def __post_init__(self):
        normalise(self, NAME)


def run(context: Context, config: QatConfig):
    """The QAT model replaces `context.model` (the float model stays when TFMOT cannot wrap
    the graph: a warning says so); adds the `qat` section."""
    from ...optimize.qat import QatOptions, qat

    options = QatOptions(config.preserve_sparsity, training.train_options(config, context, schedule=config.schedule),
                         config.targets, config.calibrated_start)
    result = qat(context.model, context.calibration, options)
    context.model = result.model
    if result.fallback:
        context.report.warn(result.fallback)
    else:
        context.save_model(result.model, "model_qat.h5")
    context.report.add("qat", **result.summary())
    return result


CONFIG = QatConfig
