"""The only module that imports TensorFlow, tf_keras and TFMOT.

TFMOT works only with Keras 2 (tf_keras), which TensorFlow picks when TF_USE_LEGACY_KERAS=1
is set *before* TensorFlow is first imported. Everything else asks this module for the
frameworks, so commands that do not need them (``--help``, ``inspect``) never pay for the import.
"""
import ctypes
import contextlib
import functools
import gc
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
# TF 2.21's oneDNN kernels can crash natively (double free) while training some
# SeparableConv2D/BatchNormalization graphs; the default Eigen kernels do not. Measured cost:
# none on the demo (training, conversion), ~25% on mini-Xception training; LiteRT is unaffected.
# TF_ENABLE_ONEDNN_OPTS=1 opts back in.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep C++ INFO/WARNING noise off the console


@functools.cache
def tf():
    import tensorflow

    tensorflow.get_logger().setLevel("ERROR")
    _freeze_imported()
    return tensorflow


@functools.cache
def keras():
    """tf_keras (Keras 2), the Keras that TFMOT understands."""
    tf()
    import tf_keras

    _freeze_imported()
    return tf_keras


@functools.cache
def tfmot():
    keras()
    import tensorflow_model_optimization

    _freeze_imported()
    return tensorflow_model_optimization


def _freeze_imported() -> None:
    """Keep the ~340k objects the frameworks create at import out of every later garbage
    collection: module state that lives as long as the process (objects the caller holds at
    that moment are frozen too, and not freed if they later become cyclic garbage). Then a
    full collection costs ~30 ms instead of ~400 ms, so release_graphs can afford one per
    conversion, and Python's own full collections, which wait for new objects to reach a
    quarter of the tracked ones, come as often as in a process without TensorFlow."""
    gc.collect()
    gc.freeze()


def release_graphs() -> None:
    """Free the graphs a conversion or training traced, now rather than ten conversions later.
    TF graphs are reference cycles that only a full collection frees; call this after the
    converter and its concrete functions went out of scope. The trim hands the freed heap
    back to the OS (glibc only)."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, musl): the collection alone frees
        return ctypes.CDLL("libc.so.6").malloc_trim
    return None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TF ops deterministic (byte-identical outputs)."""
    keras().utils.set_random_seed(seed)
    tf().config.experimental.enable_op_determinism()


def clear_session() -> None:
    """Drop Keras' global graph state between models so memory stays bounded."""
    keras().backend.clear_session()


@functools.cache
def keras3():
    """Keras 3 (the `keras` package), used only to read models saved by Keras 3."""
    tf()
    import keras

    _freeze_imported()
    return keras


def qat_registry():
    """TFMOT's default 8-bit registry: which layers QAT can wrap (no public accessor exists)."""
    tfmot()
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    return registry.Default8BitQuantizeRegistry()


def tfmot_quant_ops():
    """TFMOT's fake-quantization ops module, which its quantizers call by attribute at call time
    (so `optimize/qat_ranges.py` can record activation ranges through it)."""
    tfmot()
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    return quant_ops


def prune_preserve_scheme():
    """TFMOT's pruning-preserving 8-bit scheme, with its registry's `supports` made to agree
    with the 8-bit registry it delegates to. As shipped (0.8), it calls every layer without
    trainable weights supported (Rescaling, Normalization, Multiply ...), so quantize_apply
    asks the 8-bit registry to configure such a layer when it feeds an annotated one, and
    that raises "`get_quantize_config()` called on an unsupported layer": PQAT failed on any
    model with such a layer left out (MobileNetV3, EfficientNet), where plain QAT works."""
    tfmot()
    from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.prune_preserve import (
        default_8bit_prune_preserve_quantize_scheme as scheme,
        prune_preserve_quantize_registry as registry,
    )

    default = qat_registry()

    class Registry(registry.Default8bitPrunePreserveQuantizeRegistry):
        def supports(self, layer):
            return registry.Default8bitPrunePreserveQuantizeRegistry.supports(layer) and default.supports(layer)

    class Scheme(scheme.Default8BitPrunePreserveQuantizeScheme):
        def get_quantize_registry(self):
            return Registry()

    return Scheme()


def reserve_layer_names(model) -> None:
    """Move Keras' automatic layer names past every name `model` has. A new layer is named
    after its class and a per-process counter (conv2d, conv2d_1, ...) that knows nothing of
    the names of a model read from a file. TFMOT's transforms create layers without names
    (SeparableConv2D -> DepthwiseConv2D + Conv2D), so on Xception, whose residual convs are
    conv2d..conv2d_3, two layers got one name and tf_keras's rebuild of the transformed model
    looped forever (QAT hit the 600 s timeout)."""
    import re

    keras()
    from tf_keras.src import backend

    uids = backend.get_default_graph_uid_map()  # (namespace, base name) -> next number
    for layer in model.submodules:
        found = re.fullmatch(r"(.+?)(?:_(\d+))?", getattr(layer, "name", "") or "")
        if found:
            key = ("", found.group(1))
            uids[key] = max(uids[key], int(found.group(2) or 0) + 1)

