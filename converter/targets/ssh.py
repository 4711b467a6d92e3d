"""Real boards over ssh: copy the model and the single-file runner (arm64_runner.py: NumPy and
ai_edge_litert or tflite_runtime only) to a temporary folder on the board, run it there, fetch
the results, and always remove the folder.

Host keys are verified (BatchMode, StrictHostKeyChecking=yes: an unknown board is an error,
never silently trusted), every argument goes to ssh as a list (no local shell) and is quoted
for the remote shell, and every step has a timeout.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .base import Availability
from .runner_session import RunnerSession, read_result, write_request
from ..errors import ConverterError

RUNNER = Path(__file__).with_name("arm64_runner.py")
_NAME = re.compile(r"[\w.:%-]+")  # host names, IPv4/IPv6 addresses (with a zone), user names


@dataclass(frozen=True)
class Board:
    user: str | None
    host: str
    port: int = 22

    @classmethod
    def parse(cls, url: str) -> Board:
        u = urlparse(url)
        if u.scheme != "ssh" or not u.hostname:
            raise ConverterError(f"'{url}' is not an ssh target", hint="use ssh://user@host[:port]")
        try:
            port = 22 if u.port is None else u.port  # urlparse checks the range only when asked
            assert port > 0
        except (ValueError, AssertionError):
            raise ConverterError(f"'{url}' has an invalid port (use 1-65535)", hint="use ssh://user@host[:port]") from None
        for what, name in (("host", u.hostname), ("user", u.username or "")):
            if name.startswith("-") or not _NAME.fullmatch(name or "x"):  # ssh would read '-...' as an option
                raise ConverterError(f"'{url}' has an invalid {what} name '{name}'",
                                     hint="host and user names hold letters, digits, '.', '_' and '-', not first")
        return cls(u.username, u.hostname, port)

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host


class SshRuntime:
    name = "ssh"

    def __init__(self, url: str, identity: Path | None = None, known_hosts: Path | None = None,
                 python: str = "python3", kernels: str = "xnnpack", timeout: float = 120):
        self.board = Board.parse(url)
        self.identity, self.known_hosts, self.python = identity, known_hosts, python
        self.kernels, self.timeout = kernels, timeout

    def _ssh_options(self) -> list[str]:
        opts = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
                "-o", "LogLevel=ERROR"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.identity:
            opts += ["-i", str(self.identity), "-o", "IdentitiesOnly=yes"]
        return opts

    def remote(self, *argv: str) -> str:
        """Run argv on the board (quoted for its shell); its stdout."""
        cmd = ["ssh", *self._ssh_options(), "-p", str(self.board.port), self.board.destination,
               " ".join(shlex.quote(a) for a in argv)]
        return self._call(cmd, f"running {argv[0]} on {self.board.host}")

    def copy(self, sources: list[str], target: str) -> None:
        cmd = ["scp", "-q", *self._ssh_options(), "-P", str(self.board.port), *sources, target]
        self._call(cmd, f"copying files with {self.board.host}")

    def _call(self, cmd: list[str], doing: str) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ConverterError(f"timed out after {self.timeout:.0f} s {doing}",
                                 hint="check that the board is up and reachable") from None
        if done.returncode != 0:
            raise ConverterError(f"ssh failed {doing}: {_reason(done.stderr)}", hint=_hint(done.stderr))
        return done.stdout

    def availability(self) -> Availability:
        try:
            self.remote(self.python, "-c", "import numpy")
        except ConverterError as e:
            return Availability(False, e.message, e.hint or "")
        return Availability(True)

    def open(self, model: bytes) -> SshSession:
        return SshSession(self, model)


class SshSession(RunnerSession):
    def __init__(self, runtime: SshRuntime, model: bytes):
        super().__init__(model, runtime.kernels)
        self.rt = runtime
        self.where = f"ssh board {runtime.board.host}"

    def _run(self, inputs: list[np.ndarray], runs: int, warmup: int) -> dict:
        rt, board = self.rt, self.rt.board
        remote_dir = rt.remote("mktemp", "-d", "/tmp/edgeconv-remote.XXXXXX").strip()
        try:
            with tempfile.TemporaryDirectory(prefix="edgeconv-ssh-") as tmp:
                tmp = Path(tmp)
                write_request(tmp, self.model, rt.kernels, inputs, runs, warmup)
                rt.copy([str(tmp / "model.tflite"), str(tmp / "request.npz"), str(RUNNER)],
                        f"{board.destination}:{remote_dir}/")
                rt.remote(rt.python, f"{remote_dir}/{RUNNER.name}", f"{remote_dir}/model.tflite",
                          f"{remote_dir}/request.npz", f"{remote_dir}/result.npz")
                rt.copy([f"{board.destination}:{remote_dir}/result.npz"], str(tmp))
                return read_result(tmp / "result.npz")
        finally:
            rt.remote("rm", "-rf", "--", remote_dir)  # never leave files on the board


def _reason(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "no message")[:300]


def _hint(stderr: str) -> str:
    text = stderr.lower()
    if "host key verification failed" in text or "no matching host key" in text:
        return "the board's host key is not in known_hosts: verify it, then add it (ssh-keyscan) - never skip the check"
    if "permission denied" in text:
        return "the key was refused: pass the right --identity or install your public key on the board"
    if "connection refused" in text or "no route" in text or "could not resolve" in text:
        return "is the board on and sshd running? check host and port"
    if "no module named" in text:
        return "the board needs numpy and ai_edge_litert (or tflite_runtime) for its Python"
    return "run the same ssh command by hand to see more"
