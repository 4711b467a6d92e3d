"""EdgeTPU mapping prediction from the published rule set (no compiler here)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli
from converter.inputs.data import Dataset
from converter.export.tflite import ConvertOptions, convert
from converter.tflite.compat.edgetpu import AFTER_SPLIT, DATA_TYPE, MAPPED, NOT_SUPPORTED, predict
from converter.tflite.reader import read_model


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_demo_model_maps_fully(chain):
    p = predict(read_model(chain.int8_tflite.read_bytes()))
    assert p.fatal is None and p.split is None and p.mapped == len(p.ops) == 7
    assert all(o.status == MAPPED for o in p.ops)
    assert 0 < p.summary()["on_chip_parameter_bytes"] < 8 * 2**20


@pytest.mark.parametrize("activation", ["leaky_relu", "hard_swish"])
def test_unsupported_activation_splits_the_graph(activation):
    keras, tf = keras_env.keras(), keras_env.tf()
    layer = (keras.layers.LeakyReLU(0.1) if activation == "leaky_relu"  # the converter fuses this into HARD_SWISH:
             else keras.layers.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0))
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), layer,
                              keras.layers.Conv2D(4, 3), keras.layers.Flatten(), keras.layers.Dense(2)])
    x = np.random.default_rng(0).random((16, 8, 8, 3), dtype=np.float32)
    tflite = convert(model, Dataset(x, None, "r"), ConvertOptions(io_type="uint8", samples=16)).tflite
    p = predict(read_model(tflite))
    split = p.split
    assert split.op == activation.upper() and split.status == NOT_SUPPORTED
    assert [o.status for o in p.ops[:split.index]] == [MAPPED] * split.index
    assert all(o.status == AFTER_SPLIT for o in p.ops[split.index + 1:])
    log = p.log("m.tflite")
    assert f"Graph splits at op #{split.index} {activation.upper()}" in log and "Number of Edge TPU subgraphs: 1" in log


def test_runtime_13_does_not_map_newer_ops():
    keras = keras_env.keras()
    model = keras.Sequential([keras.Input((4, 6)), keras.layers.Permute((2, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    x = np.random.default_rng(0).random((16, 4, 6), dtype=np.float32)
    tflite = convert(model, Dataset(x, None, "r"), ConvertOptions(samples=16)).tflite
    assert read_model(tflite).op_counts() == {"FULLY_CONNECTED": 1, "RESHAPE": 1, "TRANSPOSE": 1}
    assert predict(read_model(tflite), runtime=14).split is None  # runtime 14 maps every op, TRANSPOSE too
    p13 = predict(read_model(tflite), runtime=13)
    assert p13.split.op == "TRANSPOSE" and "needs runtime 14" in p13.split.detail


def test_cli_and_float_model(chain):
    result = run("edgetpu", chain.int8_tflite, "--json", "--require-full-mapping")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["edgetpu_ops"] == 7
    result = run("edgetpu", chain.float_tflite)
    assert result.exit_code == 1 and "Model not quantized" in result.stdout


def test_float_io_conversions_stay_on_the_cpu_without_splitting_the_graph():
    """TF's own full-int8 conversion with float input and output: QUANTIZE first, DEQUANTIZE
    last. The compiler leaves both on the CPU and maps every op between (coral #342, #659)."""
    keras, tf = keras_env.keras(), keras_env.tf()
    model = keras.Sequential([keras.Input((8, 8, 3), batch_size=1), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.random((1, 8, 8, 3), dtype=np.float32)] for _ in range(8))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    p = predict(read_model(converter.convert()))
    assert p.fatal is None and p.split is None, p.log("m.tflite")
    assert [(o.op, o.at_edge) for o in (p.ops[0], p.ops[-1])] == [("QUANTIZE", True), ("DEQUANTIZE", True)]
    assert p.mapped == len(p.ops) - 2 and all(o.status == MAPPED for o in p.ops[1:-1])


def test_a_small_float_model_is_not_quantized():
    keras, tf = keras_env.keras(), keras_env.tf()
    model = keras.Sequential([keras.Input((4,), batch_size=1), keras.layers.Dense(2)])
    p = predict(read_model(tf.lite.TFLiteConverter.from_keras_model(model).convert()))
    assert p.fatal == "Model not quantized: convert with --mode int8"


def test_an_int16x8_model_is_quantized_but_its_16_bit_ops_do_not_map():
    keras = keras_env.keras()
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    x = np.random.default_rng(0).random((16, 8, 8, 3), dtype=np.float32)
    p = predict(read_model(convert(model, Dataset(x, None, "r"), ConvertOptions(mode="int16x8", samples=16)).tflite))
    assert p.fatal is None and p.split.status == DATA_TYPE and "int16" in p.split.detail
