import pytest

from converter.errors import ModelError
from converter.tflite.reader import read_model, read_model_file


def test_reads_ops_and_io_of_int8_model(chain):
    info = read_model_file(chain.int8_tflite)
    assert info.op_counts() == {"CONV_2D": 2, "FULLY_CONNECTED": 2, "MAX_POOL_2D": 1, "RESHAPE": 1, "SOFTMAX": 1}
    inp = info.main.tensor(info.main.inputs[0])
    assert (inp.dtype, inp.shape) == ("int8", (1, 8, 8, 1))
    assert inp.is_quantized and len(inp.scales) == 1
    assert info.output_names() == ["probs"]


def test_weights_are_constants_with_per_channel_scales(chain):
    sg = read_model_file(chain.int8_tflite).main
    conv = next(op for op in sg.operators if op.op == "CONV_2D")
    weights = sg.tensor(conv.inputs[1])
    assert weights.is_constant and weights.dtype == "int8"
    assert len(weights.scales) == weights.shape[0]  # one scale per output channel


@pytest.mark.parametrize("data", [b"", b"hello", b"\x00" * 4 + b"XXXX" + b"\x00" * 64])
def test_not_a_flatbuffer(data):
    with pytest.raises(ModelError, match="not a TFLite model"):
        read_model(data, "x.tflite")


def test_truncated_file_is_a_clear_error(chain):
    data = chain.int8_tflite.read_bytes()
    with pytest.raises(ModelError, match="corrupt TFLite flatbuffer"):
        read_model(data[: len(data) // 3], "cut.tflite")


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="is not a file"):
        read_model_file(tmp_path / "nope.tflite")
