"""Device test suite: `pytest device_tests --target host|arm64|micro|ssh://user@host[:port]`.

Checks a target runtime against host LiteRT's reference kernels, the correctness oracle.
`--model M.tflite` tests a given int8 model; without it a tiny digits CNN is built here.
"""
import pytest



def pytest_addoption(parser):
    parser.addoption("--target", default="host", help="host, arm64, micro or ssh://user@host[:port]")
    parser.addoption("--model", default=None, help="an int8 .tflite to test (default: build one)")
    parser.addoption("--no-skip", action="store_true", help="a target that is not available fails instead of skipping")
    parser.addoption("--identity", default=None, help="ssh key for --target ssh://user@host[:port]")
    parser.addoption("--known-hosts", default=None, help="known_hosts file for an ssh target")
    parser.addoption("--remote-python", default="python3", help="Python on the ssh board")


@pytest.fixture(scope="session")
def target(request):
    from converter.errors import ConverterError
    from converter.targets.registry import open_runtime

    name = request.config.getoption("--target")
    option = request.config.getoption
    try:
        runtime = open_runtime(name, identity=option("--identity"), known_hosts=option("--known-hosts"),
                               python=option("--remote-python"))
    except ConverterError as e:
        pytest.exit(f"{e.message} ({e.hint})", returncode=2)
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
    from converter.inputs.data import demo_digits
    from converter.demo import train_cnn
    from converter.export.tflite import ConvertOptions, convert

    train, _ = demo_digits(0)
    return convert(train_cnn(train, seed=0, epochs=2, width=4), train, ConvertOptions(samples=50)).tflite
