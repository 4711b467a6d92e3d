"""Device test suite: `pytest device_tests --target host|arm64|micro`.

Checks a target runtime against host LiteRT's reference kernels, the correctness oracle.
`--model M.tflite` tests a given int8 model; without it a tiny digits CNN is built here.
"""
import pytest

TARGETS = ("host", "arm64", "micro")


def pytest_addoption(parser):
    parser.addoption("--target", default="host", help=f"runtime to test: {', '.join(TARGETS)}")
    parser.addoption("--model", default=None, help="an int8 .tflite to test (default: build one)")
    parser.addoption("--no-skip", action="store_true", help="a target that is not available fails instead of skipping")


@pytest.fixture(scope="session")
def target(request):
    name = request.config.getoption("--target")
    if name not in TARGETS:
        pytest.exit(f"unknown target '{name}'; available: {', '.join(TARGETS)}", returncode=2)
    from converter.runtimes.arm64_emu import Arm64EmuRuntime
    from converter.runtimes.host import HostRuntime
    from converter.runtimes.micro import MicroRuntime

    runtime = {"host": lambda: HostRuntime(kernels="xnnpack"), "arm64": Arm64EmuRuntime, "micro": MicroRuntime}[name]()
    status = runtime.availability()
    if not status.ok:
        message = f"target {name} unavailable: {status.reason} ({status.install})"
        if request.config.getoption("--no-skip"):
            pytest.fail(message)
        pytest.skip(message)
    return runtime


@pytest.fixture(scope="session")
def int8_model(request, tmp_path_factory) -> bytes:
    path = request.config.getoption("--model")
    if path:
        with open(path, "rb") as f:
            return f.read()
    from converter.data import demo_digits
    from converter.demo import train_cnn
    from converter.export.tflite import ConvertOptions, convert

    train, _ = demo_digits(0)
    return convert(train_cnn(train, seed=0, epochs=2, width=4), train, ConvertOptions(samples=50)).tflite
