from converter.tflite.integer_check import layer_of, prove_integer
from converter.tflite.reader import read_model_file


def test_int8_model_is_proven_integer(chain):
    proof = prove_integer(read_model_file(chain.int8_tflite), "int8")
    assert proof.ok, proof


def test_float_model_is_refused_with_each_op_named(chain):
    info = read_model_file(chain.float_tflite)
    proof = prove_integer(info, "int8")
    assert not proof.ok
    assert any("input" in p and "float32" in p for p in proof.io_problems)
    assert {o.op for o in proof.offences} == set(info.op_counts())
    assert all("float32" in o.describe() for o in proof.offences)


def test_wrong_integer_io_type_is_reported(chain):
    proof = prove_integer(read_model_file(chain.int8_tflite), "uint8")
    assert not proof.io_ok
    assert proof.io_problems[0].endswith("is int8, expected uint8")


def test_layer_names_come_from_tensor_names():
    assert layer_of("sequential/conv2d/Relu;sequential/conv2d/BiasAdd") == "conv2d"
    assert layer_of("StatefulPartitionedCall:0") == "StatefulPartitionedCall:0"
    assert layer_of("digits_cnn/probs/MatMul") == "probs"
