"""The ssh target against a real OpenSSH server started here on 127.0.0.1 with keys made for
the test: bit-identical results, nothing left on the board, clear errors when it goes wrong."""
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from converter.errors import ConverterError
from converter.targets.host import HostRuntime
from converter.targets.ssh import SshRuntime

SSHD = Path("/usr/sbin/sshd")
pytestmark = pytest.mark.skipif(not SSHD.exists() or shutil.which("ssh") is None, reason="needs openssh-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key", "other_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PermitRootLogin prohibit-password\nPidFile {d / 'sshd.pid'}\nSubsystem sftp /usr/lib/openssh/sftp-server\n")
    try:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation folder
    except OSError as e:
        pytest.skip(f"sshd needs /run/sshd, which this user cannot create: {e}")
    proc = subprocess.Popen([str(SSHD), "-D", "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")])
    _wait_until_listening(proc, port, d / "sshd.log")
    host_key = " ".join((d / "host_key.pub").read_text().split()[:2])
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    (d / "empty_known_hosts").write_text("")
    yield d, port
    proc.terminate()
    proc.wait(5)


def _wait_until_listening(proc, port: int, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"sshd did not listen on 127.0.0.1:{port}: {log.read_text() if log.exists() else 'no log'}")
        time.sleep(0.1)


def _runtime(board, **kw):
    d, port = board
    options = {"identity": d / "client_key", "known_hosts": d / "known_hosts", "python": sys.executable, **kw}
    return SshRuntime(f"ssh://{_user()}@127.0.0.1:{port}", **options)


def _user() -> str:
    import getpass

    return getpass.getuser()


def _leftovers() -> list[str]:
    return sorted(p.name for p in Path("/tmp").glob("edgeconv-remote.*"))  # the runner's folders only


def test_runs_on_the_board_bit_identical_and_cleans_up(board, chain, digits):
    before = _leftovers()
    model = chain.int8_tflite.read_bytes()
    rt = _runtime(board)
    assert rt.availability().ok
    x = [digits[1].x[:6]]
    got, want = rt.open(model).predict(x), HostRuntime().open(model).predict(x)
    assert all(np.array_equal(got[k], want[k]) for k in want)
    assert rt.open(model).benchmark(5, 1).p50_ms > 0
    assert _leftovers() == before


@pytest.mark.parametrize("change, message, hint", [
    ({"known_hosts": "empty"}, "Host key verification failed", "never skip the check"),
    ({"identity": "other_key"}, "Permission denied", "the key was refused"),
    ({"python": "/nonexistent/python3"}, "ssh failed running", ""),
])
def test_failures_are_clear_and_leave_nothing(board, chain, change, message, hint):
    d, _ = board
    kw = {k: (d / f"{v}_known_hosts" if k == "known_hosts" else d / v if k == "identity" else v)
          for k, v in change.items()}
    before = _leftovers()
    with pytest.raises(ConverterError) as e:
        _runtime(board, **kw).open(chain.int8_tflite.read_bytes()).predict([np.zeros((1, 8, 8, 1), np.float32)])
    assert message in e.value.message and hint in (e.value.hint or "")
    assert _leftovers() == before


def test_refused_connection_and_bad_url():
    rt = SshRuntime(f"ssh://nobody@127.0.0.1:{_free_port()}", timeout=20)
    with pytest.raises(ConverterError, match="Connection refused") as e:
        rt.remote("true")
    assert "is the board on" in e.value.hint
    with pytest.raises(ConverterError, match="is not an ssh target"):
        SshRuntime("http://board")


def test_validate_on_the_board_through_the_cli(board, chain):
    import json

    from click.testing import CliRunner

    from converter.cli import cli

    d, port = board
    result = CliRunner().invoke(cli, [
        "validate", str(chain.int8_tflite), "--reference", str(chain.keras_path), "--data", str(chain.test_npz),
        "--target", f"ssh://{_user()}@127.0.0.1:{port}", "--identity", str(d / "client_key"),
        "--known-hosts", str(d / "known_hosts"), "--remote-python", sys.executable, "--json"])
    assert result.exit_code == 0, result.output
    v = json.loads(result.stdout)["sections"]["validation"]
    assert v["target"].startswith("ssh://") and v["samples"] == 360 and v["agreement"] > 0.9
