"""Ctrl-C or SIGTERM while edgeconv works: the process exits cleanly, leaving no staging
folder next to the output, no temporary files (TensorFlow's SavedModel exports included), and
the inputs as they were."""
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import converter

REPO = Path(converter.__file__).resolve().parents[1]


class Edgeconv:
    """`edgeconv ARGS` in a child process with its own TMPDIR; stderr is collected as it comes."""

    def __init__(self, args, tmpdir: Path):
        tmpdir.mkdir()
        env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-c", "from converter.cli.main import main; main()",
                                      *map(str, args)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True)
        self._reader.start()

    def wait_for(self, condition, timeout=180):
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"edgeconv ended before the signal: {''.join(self.stderr)}"
            assert time.monotonic() < deadline, f"timed out; stderr so far: {''.join(self.stderr)}"
            time.sleep(0.02)

    def interrupt(self, signum) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=120)
        self._reader.join(timeout=30)  # the pipe's end: every line is read
        return code


def digest(*paths):
    return [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]


def test_sigterm_during_run_leaves_no_staging_folder(chain, tmp_path):
    inputs = digest(chain.keras_path, chain.train_npz)
    out = tmp_path / "build" / "mcu"
    run = Edgeconv(["run", "mcu-int8", "--model", chain.keras_path, "--data", chain.train_npz, "-o", out],
                   tmp_path / "tmp")
    run.wait_for(lambda: any("stage: convert" in line for line in run.stderr))
    assert run.interrupt(signal.SIGTERM) == 128 + signal.SIGTERM, "".join(run.stderr)
    assert run.stderr[-1] == "Interrupted: no output was written.\n"
    assert list((tmp_path / "build").iterdir()) == []
    assert list((tmp_path / "tmp").iterdir()) == []
    assert digest(chain.keras_path, chain.train_npz) == inputs


def test_sigint_during_convert_leaves_no_savedmodel_export(chain, tmp_path):
    inputs = digest(chain.keras_path, chain.train_npz)
    work = tmp_path / "work"
    work.mkdir()
    convert = Edgeconv(["convert", chain.keras_path, "--data", chain.train_npz, "-o", work / "m.tflite"],
                       tmp_path / "tmp")
    # the converter exports a SavedModel into a temporary folder, inside edgeconv's own: signal while it is there
    # (not earlier: the child's own temporary folder appears before its signal handlers are in place)
    convert.wait_for(lambda: _holds_file(tmp_path / "tmp", "saved_model.pb"))
    assert convert.interrupt(signal.SIGINT) == 130, "".join(convert.stderr)
    assert convert.stderr[-1] == "Interrupted: no output was written.\n"
    assert list(work.iterdir()) == []
    assert list((tmp_path / "tmp").iterdir()) == []
    assert digest(chain.keras_path, chain.train_npz) == inputs


def _holds_file(folder, name: str) -> bool:
    """Whether a file `name` is anywhere under `folder`. os.walk skips folders that vanish while it
    looks (the converter's own temporary folders), where Path.rglob raises FileNotFoundError."""
    return any(name in files for _, _, files in os.walk(folder))
