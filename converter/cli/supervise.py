"""Commands whose native code can crash run in a child process: TensorFlow's kernels while
training (stack.md: oneDNN's double free on some SeparableConv2D/BN graphs), its converter's
int8 calibrator (seen: SIGSEGV on a GRU's WHILE loop), tflite-micro and LiteRT's reference
kernels on some models (seen: SIGABRT preparing an int8 SOFTMAX). Such a crash kills the
process with a signal and no message; the parent, which never imports TensorFlow, turns it
into an error naming the step, with a hint.

The child is this CLI again, with the same arguments (a fresh interpreter, not a fork: no
TensorFlow state is copied). It shares the parent's stdio, so tables, progress bars and --json
behave as usual, and its temporary folder lies inside the parent's, which is removed however
the child ends. Ctrl-C from the terminal reaches both; SIGINT or SIGTERM sent to the parent
alone is passed on. Where a child cannot take over (TensorFlow already imported in this
process, as when the CLI is called as a library or in tests, or stdio without file
descriptors), the command runs in this process.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import NativeCrash
from ..interrupts import private_tempdir
from ..logs import log_path

_TRAINING_HINT = ("TensorFlow's oneDNN kernels are off unless TF_ENABLE_ONEDNN_OPTS=1 is set (unset it if so); "
                  "try another --batch-size")
_CONVERTER_HINT = ("TensorFlow's converter crashed on this model; recurrent layers (LSTM/GRU become WHILE loops) are "
                   "known to crash its int8 calibrator: try unroll=True on them, or --mode dynamic")
_RUNTIME_HINT = "a TFLite runtime crashed on this model; try --kernels xnnpack or another --target"
# command -> (what it does, what to try when its native code crashes)
STEPS = {"prune": ("pruning", _TRAINING_HINT), "qat": ("QAT", _TRAINING_HINT),
         "distill": ("distillation", _TRAINING_HINT), "run": ("the recipe", _TRAINING_HINT),
         "demo": ("the demo", _TRAINING_HINT), "convert": ("conversion", _CONVERTER_HINT),
         "validate": ("validation", _RUNTIME_HINT), "explain": ("the explanation", _RUNTIME_HINT)}
_CHILD = "EDGECONV_SUPERVISED"
_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def supervised(command: str | None) -> bool:
    return (command in STEPS and not os.environ.get(_CHILD) and "tensorflow" not in sys.modules
            and all(_has_fd(s) for s in (sys.stdin, sys.stdout, sys.stderr)))


def run_in_child(command: str, args: list[str]) -> int:
    """The child's exit code; a death by signal becomes an error message here."""
    sys.stdout.flush()
    sys.stderr.flush()
    path = os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)
    with private_tempdir():
        proc = subprocess.Popen([sys.executable, "-c", "from converter.cli.main import main; main()", *args],
                                env={**os.environ, _CHILD: "1", "PYTHONPATH": path})
        with _passing_signals_to(proc):
            code = proc.wait()
    if code >= 0:
        return code
    if -code in _INTERRUPTS:  # killed before its own handlers were in place
        print("Interrupted: no output was written.", file=sys.stderr)
        return 128 - code
    raise crash_error(command, signal.Signals(-code))


def crash_error(command: str, sig: signal.Signals) -> NativeCrash:
    what, advice = STEPS[command]
    if sig == signal.SIGKILL:
        advice = "the system may have run out of memory: try a smaller --batch-size or model"
    return NativeCrash(f"{what} crashed in native code (killed by {sig.name}, no Python error)",
                       hint=f"{advice}; native log: {log_path()}")


@contextlib.contextmanager
def _passing_signals_to(proc):
    """The child handles interruptions itself (and ignores repeats); the parent only relays
    them, keeping a signal it ignores (a background job) ignored."""
    previous = {s: signal.getsignal(s) for s in _INTERRUPTS if signal.getsignal(s) is not signal.SIG_IGN}
    for s in previous:
        signal.signal(s, lambda signum, frame: proc.send_signal(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _has_fd(stream) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False
