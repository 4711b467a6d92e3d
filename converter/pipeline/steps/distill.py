"""distill: train a small student to mimic the (frozen) model; the student replaces the model
for the steps that follow, while validation still compares with the model as given."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import ModelError
from ...optimize.distill import TEMPLATES
from ...settings import normalise, setting
from ..context import Context
from . import training

NAME = "distill"
PHASE = "train"



def layer_pair(value) -> tuple[str, str]:
    parts = tuple(value) if isinstance(value, (list, tuple)) else tuple(str(value).split(":", 1))
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"'{value}' is not TEACHER_LAYER:STUDENT_LAYER")
    return parts


@dataclass(frozen=True)
class DistillConfig:
    student: str = setting("tiny_cnn", help="A Keras model file, or a template: tiny_cnn (images) or tiny_mlp.")
    width: float = setting(1.0, low=0.05, high=16, help="Width multiplier of a template student.")
    alpha: float = setting(0.1, low=0, high=1, help="Weight of the hard-label loss (ignored without labels).")
    temperature: float = setting(4.0, low=0, open_low=True, help="Softmax temperature of the soft targets.")
    hint: tuple[str, str] | None = setting(None, parse=layer_pair, metavar="TEACHER_LAYER:STUDENT_LAYER",
                                           help="Also match an intermediate feature.")
    epochs: int = training.epochs(20)
    batch_size: int = training.batch_size()
    learning_rate: float = training.learning_rate(2e-3)

    def __post_init__(self):
        normalise(self, NAME)


def run(context: Context, config: DistillConfig):
    from ...optimize.distill import DistillOptions, distill

    teacher = context.model
    options = DistillOptions(config.alpha, config.temperature, config.hint,
                             train=training.train_options(config, context, patience=0))
    result = distill(teacher, student_model(context, config), context.calibration, options)
    context.model = result.student
    context.save_model(result.student, "model_student.keras")
    context.report.add("distillation", **result.summary(), teacher_parameters=int(teacher.count_params()),
                       student_parameters=int(result.student.count_params()))
    return result


def student_model(context: Context, config: DistillConfig):
    from ...inputs.models import input_scaling_layers, load_model
    from ...optimize.distill import input_shape, output_shape, student_template

    teacher, data = context.model, context.calibration
    if config.student in TEMPLATES:  # sized from the teacher (called on a sample when it is subclassed)
        return student_template(config.student, input_shape(teacher, data), int(output_shape(teacher, data)[-1]),
                                config.width, input_scaling_layers(teacher))
    if Path(config.student).exists():
        return load_model(Path(config.student), trust_model=context.trust_model, code=context.code)
    raise ModelError(f"student '{config.student}' is neither a model file nor a template",
                     hint="templates: tiny_cnn (images), tiny_mlp; or give a Keras model path")


CONFIG = DistillConfig
