"""The abort that killed validate on untrained keras.applications models (SIGABRT preparing an
int8 SOFTMAX on LiteRT's reference kernels and tflite-micro), reproduced on a one-layer model
whose logits span a chosen range: the check in tflite/kernel_limits.py predicts exactly the
models the real runtimes die on, and validate refuses those with the op named (exit 3)."""
import subprocess
import sys

import numpy as np
import pytest

from converter.tflite.kernel_limits import aborting_ops
from converter.tflite.reader import read_model

# the converter widens a zero range to 2e-6; 3e-6 and 5e-6 lie either side of 255 * 2^-26 = 3.8e-6
SPANS = [0.0, 3e-6, 5e-6, 1.0]

_LOAD = {"reference": """
import sys
from ai_edge_litert.interpreter import Interpreter, OpResolverType
Interpreter(model_content=open(sys.argv[1], 'rb').read(),
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF).allocate_tensors()
""", "micro": """
import sys
from tflite_micro import runtime
runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=1 << 20)
"""}


def _softmax_model(tmp_path, span: float):
    """Dense -> softmax whose logits run over [0, span] on the calibration data."""
    from converter import keras_env
    from converter.export.tflite import ConvertOptions, convert
    from converter.inputs.data import Dataset

    keras = keras_env.keras()
    dense = keras.layers.Dense(3, use_bias=False)
    model = keras.Sequential([keras.Input((2,)), dense, keras.layers.Softmax()])
    dense.set_weights([np.array([[span, 0, 0], [0, 0, 0]], np.float32)])
    x = np.array([[0, 0], [1, 0], [0.5, 1]] * 4, np.float32)
    path = tmp_path / f"softmax_{span:g}.tflite"
    result = convert(model, Dataset(x, None, "test"), ConvertOptions(samples=12))
    path.write_bytes(result.tflite)
    model.save(tmp_path / "model.keras")
    return path, result.warnings


@pytest.mark.parametrize("span", SPANS)
def test_check_predicts_the_abort_of_the_reference_kernels_and_tflite_micro(tmp_path, span):
    path, warnings = _softmax_model(tmp_path, span)
    predicted = bool(aborting_ops(read_model(path.read_bytes())))
    assert any("reference kernels and tflite-micro will refuse it: SOFTMAX #1" in w for w in warnings) == predicted
    for runtime, script in _LOAD.items():
        died = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True).returncode == -6
        assert predicted == died == (span < 3.8e-6), (runtime, span, predicted, died)


def test_validate_refuses_it_naming_the_op(tmp_path):
    from click.testing import CliRunner

    from converter.cli.main import cli

    path, _ = _softmax_model(tmp_path, 0.0)
    np.savez(tmp_path / "d.npz", x=np.ones((4, 2), np.float32))
    result = CliRunner().invoke(cli, ["validate", str(path), "--reference", str(tmp_path / "model.keras"),
                                      "--data", str(tmp_path / "d.npz"),
                                      "--kernels", "reference", "--workers", "1"])
    assert result.exit_code == 3, result.output
    assert "LiteRT's reference kernels cannot run this model: SOFTMAX #1 has an input scale of 7.84e-09" in result.output
    assert "--kernels xnnpack" in result.output
