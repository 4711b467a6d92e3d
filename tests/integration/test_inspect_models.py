"""`inspect` on the kinds of .tflite found in the wild: dynamic dims, control flow subgraphs,
custom ops, float16 weights, stateful (resource variable) models."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli


def _convert(fn, specs, trackable=None, **flags) -> bytes:
    tf = keras_env.tf()
    concrete = tf.function(fn).get_concrete_function(*specs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable)
    for k, v in flags.items():
        setattr(converter, k, v)
    return converter.convert()


@pytest.fixture(scope="module")
def wild(tmp_path_factory):
    tf = keras_env.tf()
    root = tmp_path_factory.mktemp("wild")
    w = tf.constant(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32))
    models = {
        "dynamic": _convert(lambda x: tf.matmul(x, w), [tf.TensorSpec([None, 6], tf.float32)]),
        "free_size": _convert(lambda x: tf.reduce_mean(x, axis=[1, 2]), [tf.TensorSpec([1, None, None, 3], tf.float32)]),
        "while": _convert(lambda x: tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0), (0, x))[1],
                          [tf.TensorSpec([1, 4], tf.float32)]),
        "custom": _convert(lambda x: tf.math.erf(x), [tf.TensorSpec([1, 4], tf.float32)], allow_custom_ops=True),
        "float16": _convert(lambda x: tf.matmul(x, w), [tf.TensorSpec([1, 6], tf.float32)],
                            optimizations=[tf.lite.Optimize.DEFAULT]),
    }
    module = tf.Module()
    module.state = tf.Variable(tf.zeros([1, 4]))

    def accumulate(x):
        module.state.assign_add(x)
        return module.state.read_value()

    models["stateful"] = _convert(accumulate, [tf.TensorSpec([1, 4], tf.float32)], module,
                                  experimental_enable_resource_variables=True)
    paths = {}
    for name, data in models.items():
        paths[name] = root / f"{name}.tflite"
        paths[name].write_bytes(data)
    return paths


def inspect(path):
    result = CliRunner().invoke(cli, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_dynamic_dims(wild):
    doc = inspect(wild["dynamic"])
    assert doc["subgraphs"][0]["dynamic"] and doc["subgraphs"][0]["inputs"][0]["shape"] == [-1, 6]


def test_a_free_size_other_than_the_batch_is_named_with_a_warning(wild):
    assert inspect(wild["dynamic"])["free_size_inputs"] == []  # a free batch only: the figures stand
    result = CliRunner().invoke(cli, ["inspect", str(wild["free_size"])])
    assert result.exit_code == 0, result.output
    (name,) = json.loads(CliRunner().invoke(cli, ["inspect", str(wild["free_size"]), "--json"]).stdout)["free_size_inputs"]
    assert f"Warning: input(s) {name} have a free size: MACs and arena below are for the file's placeholder" in result.stderr


def test_control_flow_subgraphs(wild):
    doc = inspect(wild["while"])
    assert "WHILE" in doc["op_counts"] and len(doc["subgraphs"]) == 3


def test_custom_ops_are_listed(wild):
    assert inspect(wild["custom"])["custom_ops"] == ["CUSTOM:Erf"]


def test_weight_types(wild):
    doc = inspect(wild["float16"])
    assert set(doc["weights"]["bytes_by_dtype"]) <= {"int8", "float32", "int32"}  # dynamic-range default
    text = CliRunner().invoke(cli, ["inspect", str(wild["float16"]), "--tensors"]).output
    assert "const" in text


def test_stateful_model_and_its_validation(wild):
    from converter.targets.host import HostSession

    doc = inspect(wild["stateful"])
    assert doc["subgraphs"][0]["variables"] >= 1
    session = HostSession(wild["stateful"].read_bytes())
    x = np.ones((3, 1, 4), np.float32).reshape(3, 4)
    out = list(session.predict([x]).values())[0]
    assert np.array_equal(out, np.ones((3, 4)))  # state reset per sample: no accumulation across samples
