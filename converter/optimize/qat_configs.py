"""Fake-quantization for layers TFMOT's 8-bit registry leaves out, though TFLite runs them in int8.

TFMOT 0.8 comments Conv1D and MaxPooling1D out of its registry ("enable once verified") and has
no entry for Multiply, so QAT left the filter banks of audio models and every squeeze-excite
gate float: training never saw their quantization. The converter lowers them to int8 CONV_2D
(per-channel weights), MAX_POOL_2D and MUL, so the configs here mirror TFMOT's own for Conv2D,
MaxPooling2D and Add: symmetric int8 weights with the activation quantized after it,
nothing for max pooling, the output quantized for a multiply. Conversion checks the result
(the integer proof), so a config TFLite disagreed with would show there.
"""
from __future__ import annotations

from .. import keras_env

# The activations TFMOT's QuantizeAwareActivation accepts in a wrapped layer (quantize_aware_activation.py)
WRAPPABLE_ACTIVATIONS = frozenset({"linear", "relu", "swish", "gelu", "softmax", "sigmoid", "tanh"})


def config_for(layer):
    """Our QuantizeConfig for `layer`, or None when TFMOT's own registry decides."""
    kind = type(layer).__name__
    if kind == "Conv1D" and _activation(layer) in WRAPPABLE_ACTIVATIONS and not _is_grouped(layer) \
            and not feeds_a_square(layer):
        return _configs()["Conv1DQuantizeConfig"]()
    if kind == "Multiply":
        return _configs()["PassThroughQuantizeConfig"]()
    if kind == "MaxPooling1D":
        return _configs()["PassThroughQuantizeConfig"]()
    return None


def handled_types() -> frozenset[str]:
    return frozenset({"Conv1D", "Multiply", "MaxPooling1D"})


def custom_objects() -> dict:
    """What `quantize_scope` needs to clone a model annotated with these configs."""
    return dict(_configs())


def feeds_a_square(layer) -> bool:
    """Whether a Multiply takes this layer's output twice. The converter then moves the
    multiply before the Squeeze that ends a Conv1D, and refuses that reshape between the
    fake-quantized conv output and the square's own range ("same scale constraint")."""
    for node in getattr(layer, "_outbound_nodes", []):
        if type(node.outbound_layer).__name__ == "Multiply":
            inbound = node.inbound_layers if isinstance(node.inbound_layers, list) else [node.inbound_layers]
            if len(inbound) > 1 and all(source is layer for source in inbound):
                return True
    return False


def _activation(layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation)) if activation is not None else "linear"


def _is_grouped(layer) -> bool:
    return getattr(layer, "groups", 1) != 1


_CLASSES: dict = {}


def _configs() -> dict:
    """The config classes, defined once TFMOT is imported (it imports TensorFlow)."""
    if not _CLASSES:
        _CLASSES.update(_define())
    return _CLASSES


def _define() -> dict:
    quant = keras_env.tfmot().quantization.keras
    quantizers = quant.quantizers

    def activation_quantizer():
        return quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False, narrow_range=False)

    class Conv1DQuantizeConfig(quant.QuantizeConfig):
        """Like TFMOT's Conv2D config, but one symmetric int8 scale for the whole kernel: a
        per-channel fake-quant before the ExpandDims and transpose the converter puts between a
        Conv1D kernel and CONV_2D fails conversion ("tfl.transpose op has mismatched quantized
        axes"). The activation is quantized after, as for Conv2D."""

        def get_weights_and_quantizers(self, layer):
            return [(layer.kernel, quantizers.LastValueQuantizer(num_bits=8, per_axis=False, symmetric=True,
                                                                 narrow_range=True))]

        def get_activations_and_quantizers(self, layer):
            return [(layer.activation, activation_quantizer())]

        def set_quantize_weights(self, layer, quantize_weights):
            layer.kernel = quantize_weights[0]

        def set_quantize_activations(self, layer, quantize_activations):
            layer.activation = quantize_activations[0]

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    class OutputQuantizeConfig(quant.QuantizeConfig):
        """Like TFMOT's Add config: no weights, the output quantized (int8 MUL's output scale)."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [activation_quantizer()]

        def get_config(self):
            return {}

    class PassThroughQuantizeConfig(OutputQuantizeConfig):
        """Like TFMOT's MaxPooling2D config: max pooling keeps its input's scale, nothing to add."""

        def get_output_quantizers(self, layer):
            return []

    return {cls.__name__: cls for cls in (Conv1DQuantizeConfig, OutputQuantizeConfig, PassThroughQuantizeConfig)}
