"""Ethos-U through Vela: a full-int8 model compiles and Vela's figures are reported."""
import json
import pytest
from click.testing import CliRunner

from converter.cli import cli
from converter.targets.ethosu import vela_path
from converter.tflite.reader import read_model

pytestmark = pytest.mark.skipif(vela_path() is None, reason="ethos-u-vela not installed")


def test_vela_figures_and_compiled_model(chain, tmp_path):
    out = tmp_path / "m_vela.tflite"
    result = CliRunner().invoke(cli, ["ethosu", str(chain.int8_tflite), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["npu_operators"] > 0 and figures["cpu_operators"] == 0
    assert figures["cycles_total"] >= figures["cycles_npu"] > 0 and figures["inferences_per_second"] > 0
    assert figures["off_chip_flash_used_kib"] > 0
    assert any(op.startswith("CUSTOM:ethos-u") for op in read_model(out.read_bytes()).op_counts())


def test_vela_bad_inputs(chain, tmp_path):
    result = CliRunner().invoke(cli, ["ethosu", str(chain.int8_tflite), "--accelerator", "ethos-u99"])
    assert result.exit_code == 3 and result.stderr.startswith("Error: unknown accelerator 'ethos-u99'")
    result = CliRunner().invoke(cli, ["ethosu", str(chain.invalid)])
    assert result.exit_code == 3 and "is not a TFLite model" in result.stderr


def test_nothing_on_the_npu_has_no_estimate(chain):
    result = CliRunner().invoke(cli, ["ethosu", str(chain.float_tflite)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Warning: no operator runs on the NPU, so Vela has no estimate")
    assert "nothing runs on the NPU" in result.stdout and "nan" not in result.stdout
    figures = json.loads(CliRunner().invoke(cli, ["ethosu", str(chain.float_tflite), "--json"]).stdout)
    assert figures["npu_operators"] == 0 and figures["inferences_per_second"] is None


def test_vela_table_reads_in_units(chain):
    result = CliRunner().invoke(cli, ["ethosu", str(chain.int8_tflite)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Compiled model_int8.tflite for ethos-u55-128 (") and lines[0].endswith(") with Vela")
    assert any("inference (Vela's estimate)" in line and "inferences/s" in line and "µs" in line for line in lines)
    assert lines[-1] == "Next: -o model_vela.tflite writes the compiled model for the NPU's firmware"
