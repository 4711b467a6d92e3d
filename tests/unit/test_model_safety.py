"""The stored-config check: code is found wherever it nests, and real architectures pass."""
import json

import pytest

from converter import keras_env
from converter.inputs.model_safety import code_entries


def _layer(class_name, name, **config):
    return {"class_name": class_name, "config": {"name": name, **config}}


def test_lambda_inside_a_nested_model_is_named():
    inner = _layer("Functional", "block", layers=[_layer("Dense", "d"), _layer("Lambda", "hidden_code")])
    outer = _layer("Functional", "outer", layers=[_layer("InputLayer", "in"), inner])
    assert [(e.layer, e.reason) for e in code_entries(outer)] == [
        ("hidden_code", "is a Lambda layer, whose Python code is stored in the file")]


def test_bytecode_functions_and_foreign_modules_are_found():
    keras3_fn = _layer("Dense", "dense_fn", activation={"class_name": "__lambda__", "config": {"code": "..."}})
    legacy_fn = _layer("Custom", "legacy_fn", function_type="lambda")
    foreign = {"module": "my_package.layers", **_layer("Block", "custom")}
    found = {e.layer: e.reason for e in code_entries([keras3_fn, legacy_fn, foreign])}
    assert found == {"dense_fn": "holds a Python function stored as bytecode",
                     "legacy_fn": "holds a Python function stored as bytecode",
                     "custom": "needs my_package.layers.Block: loading it would import my_package.layers"}


def test_keras_modules_are_not_code():
    entry = {"module": "keras.layers", "registered_name": None, **_layer("Dense", "d")}
    assert code_entries([entry, {"module": "tensorflow_model_optimization.python", **_layer("QuantizeWrapperV2", "q")},
                         {"module": "builtins", "class_name": "function", "config": "relu"}]) == []


# Architectures we did not design, in each config format the loaders read (.keras for Keras 2
# and 3, and the legacy JSON of .h5 and SavedModel): none may be mistaken for code.
APPLICATIONS = [("EfficientNetV2B0", (32, 32, 3)), ("ConvNeXtTiny", (32, 32, 3)), ("MobileNetV3Small", (32, 32, 3))]


@pytest.mark.parametrize("name, shape", APPLICATIONS)
def test_applications_configs_hold_no_code(name, shape):
    k2, k3 = keras_env.keras(), keras_env.keras3()
    m2 = getattr(k2.applications, name)(weights=None, input_shape=shape)
    m3 = getattr(k3.applications, name)(weights=None, input_shape=shape)
    configs = [k2.saving.serialize_keras_object(m2), json.loads(m2.to_json()), k3.saving.serialize_keras_object(m3)]
    assert code_entries(configs) == []
    k2.backend.clear_session()
    k3.backend.clear_session()
