"""Emulated arm64: real aarch64 LiteRT kernels under qemu: the reference kernels bit-identical
to the host's, XNNPACK's (other SIMD code paths) within 1 LSB."""
import numpy as np
import pytest

from converter.errors import ConverterError
from converter.targets import arm64_emu
from converter.targets.arm64_emu import Arm64EmuRuntime
from converter.targets.host import HostRuntime
from converter.tflite.reader import read_model

ready = Arm64EmuRuntime().availability().ok


@pytest.mark.skipif(not ready, reason="run `edgeconv targets setup arm64` first")
@pytest.mark.parametrize("kernels", ["reference", "xnnpack"])
def test_outputs_bit_identical_to_host(chain, digits, kernels):
    model = chain.int8_tflite.read_bytes()
    x = [digits[1].x[:20]]
    got = Arm64EmuRuntime(kernels=kernels).open(model).predict(x)
    want = HostRuntime(kernels=kernels).open(model).predict(x)
    main = read_model(model).main
    lsb = main.tensor(main.outputs[0]).scales[0]
    steps = 0 if kernels == "reference" else 1  # seen: 1 of 200 outputs 1 LSB apart, on a chain of another seed
    assert all(np.max(np.abs(got[k] - want[k])) <= steps * lsb + 1e-9 for k in want)


@pytest.mark.skipif(not ready, reason="run `edgeconv targets setup arm64` first")
def test_emulated_latency_and_crash_reporting(chain):
    session = Arm64EmuRuntime().open(chain.int8_tflite.read_bytes())
    assert session.benchmark(5, 1).p50_ms > 0
    with pytest.raises(ConverterError, match="the emulated arm64 runtime failed"):
        arm64_emu.run_emulated(["-c", "import sys; sys.exit('boom')"], timeout=60)


def test_unavailable_target_says_how_to_set_it_up(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    status = Arm64EmuRuntime().availability()
    assert not status.ok and "targets setup arm64" in status.install
    with pytest.raises(ConverterError, match="target arm64 is not available"):
        Arm64EmuRuntime().open(b"")
