"""The fine-tuning settings that prune, qat and distill share (each with its own defaults),
and the trainer's options built from them."""
from __future__ import annotations

from ...settings import setting


def epochs(default: int):
    return setting(default, low=1, help="Fine-tuning epochs.")


def batch_size():
    return setting(32, low=1, help="Training batch size.")


def learning_rate(default: float):
    return setting(default, low=0, open_low=True, help="Adam learning rate.")


def early_stop():
    return setting(True, flag="--early-stop/--no-early-stop",
                   help="Hold out a tenth of the data and stop fine-tuning once its loss stops improving "
                        "(structured pruning without distill; unstructured pruning only holds it out); off: every "
                        "epoch on all the data, which small data sets want.")


def train_options(config, context, **extra):
    """TrainOptions from a step config's epochs / batch_size / learning_rate (and early_stop,
    where the step has it) and the run's seed."""
    from ...optimize.train import TrainOptions

    if not getattr(config, "early_stop", True):
        extra = {"patience": 0, "validation_split": 0.0, **extra}
    return TrainOptions(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
                        seed=context.seed, verbose=1 if context.verbose else 0, **extra)
