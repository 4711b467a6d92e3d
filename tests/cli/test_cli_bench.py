import json

import pytest

from click.testing import CliRunner

from converter.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_bench_float_and_int8_side_by_side(chain):
    result = run("bench", chain.float_tflite, chain.int8_tflite, "--threads", "1,2", "--runs", 5, "--warmup", 1,
                 "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(r["model"], r["threads"]) for r in doc["runs"]] == [
        ("model_float.tflite", 1), ("model_float.tflite", 2), ("model_int8.tflite", 1), ("model_int8.tflite", 2)]
    assert all(r["latency"]["p50_ms"] > 0 and r["peak_rss_bytes"] > 0 and r["mac_per_s"] > 0 for r in doc["runs"])
    float_size, int8_size = (m["size_bytes"] for m in doc["models"])
    assert float_size > int8_size


def test_bench_text_output(chain):
    result = run("bench", chain.int8_tflite, "--runs", 3, "--warmup", 0, "--kernels", "reference")
    assert result.exit_code == 0 and "on host LiteRT: latency per kernels and threads" in result.stdout and "reference" in result.stdout


def test_bench_bad_inputs(chain, tmp_path):
    result = run("bench", tmp_path / "none.tflite")
    assert result.exit_code == 3 and result.stderr.splitlines()[0] == f"Error: {tmp_path / 'none.tflite'} is not a file"
    result = run("bench", chain.invalid)
    assert result.exit_code == 3 and "is not a TFLite model" in result.stderr
    result = run("bench", chain.int8_tflite, "--threads", "0")
    assert result.exit_code == 2 and "'0' is not a comma-separated list of positive integers" in result.stderr


def test_bench_on_another_target_labels_where_it_timed(chain):
    from converter.targets.registry import target, timing_label

    if not target("micro").availability().ok:
        pytest.skip("tflite-micro is not installed")
    result = CliRunner().invoke(cli, ["bench", str(chain.int8_tflite), "--target", "micro", "--runs", "5",
                                      "--warmup", "1", "--json"])
    assert result.exit_code == 0, result.output
    run, = json.loads(result.stdout)["runs"]
    assert run["runtime"] == timing_label("micro") and run["latency"]["p50_ms"] > 0


def test_bench_refuses_an_unknown_target(chain):
    result = CliRunner().invoke(cli, ["bench", str(chain.int8_tflite), "--target", "tpu"])
    assert result.exit_code == 3 and result.stderr.startswith("Error: unknown target 'tpu'")


def test_a_model_tflite_micro_refuses_says_why_it_has_no_measured_arena(tmp_path):
    from converter import keras_env
    from converter.targets.micro import MicroRuntime

    if not MicroRuntime().availability().ok:
        pytest.skip("tflite-micro is not installed")
    keras, tf = keras_env.keras(), keras_env.tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Sequential([keras.Input((8,), batch_size=1),
                                                                           keras.layers.Dense(4)]))
    converter.optimizations, converter.target_spec.supported_types = [tf.lite.Optimize.DEFAULT], [tf.float16]
    (tmp_path / "half.tflite").write_bytes(converter.convert())
    result = run("bench", tmp_path / "half.tflite", "--runs", 3, "--warmup", 0)
    assert result.exit_code == 0, result.output
    assert ("half.tflite: no measured arena: tflite-micro cannot run this model: float16 tensors"
            in " ".join(result.stdout.split()))
