"""QuantizeConfigs for layers TFMOT's 8-bit registry leaves out, though TFLite runs them in int8.

MaxPooling1D is commented out there ("enable once verified"); the converter makes it an int8
MAX_POOL_2D that keeps its input's scale, so its config is TFMOT's own for MaxPooling2D: nothing
to quantize. Left out, it made QAT of every model with one fall back to layer-by-layer annotation.

Tried and measured, not kept (benchmarks/quant_quality.py, `tones`, 3 seeds; QAT int8 86.70%
with TFMOT's registry alone):
- Conv1D like TFMOT's Conv2D config: 83.9-84.1%. Its kernel can only be fake-quantized per
  tensor (per channel, conversion fails: "tfl.transpose op has mismatched quantized axes"), and a
  Conv1D whose output a Multiply squares does not convert at all (the converter moves the square
  before the Conv1D's Squeeze, then refuses that reshape's two ranges).
- Multiply with its output quantized, like Add: 84.23% ± 8.98 (one seed 74.0%).
"""
from __future__ import annotations

from .. import keras_env


def config_for(layer):
    """Our QuantizeConfig for `layer`, or None when TFMOT's own registry decides."""
    if type(layer).__name__ == "MaxPooling1D":
        return _configs()["PassThroughQuantizeConfig"]()
    return None


def custom_objects() -> dict:
    """What `quantize_scope` needs to clone a model annotated with these configs."""
    return dict(_configs())


_CLASSES: dict = {}


def _configs() -> dict:
    """The config classes, defined once TFMOT is imported (it imports TensorFlow)."""
    if not _CLASSES:
        _CLASSES.update(_define())
    return _CLASSES


def _define() -> dict:
    quant = keras_env.tfmot().quantization.keras

    class PassThroughQuantizeConfig(quant.QuantizeConfig):
        """Like TFMOT's MaxPooling2D config: max pooling keeps its input's scale, nothing to add."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    return {cls.__name__: cls for cls in (PassThroughQuantizeConfig,)}
