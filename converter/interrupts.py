"""Interrupted runs leave nothing behind. While a command runs, Ctrl-C (SIGINT) and SIGTERM
raise KeyboardInterrupt (Terminated for SIGTERM) in the main thread, so both leave through
the `finally` blocks that remove staging files. Native code that calls back into Python can
swallow that exception or turn it into another, so the signal is also recorded: the error
boundary reports it, and no output is moved into place after it. Libraries' own temporary
files (TensorFlow's SavedModel exports, Keras saves) go into one private folder that is
removed however the run ends."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt."""


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _on_signal(signum, frame):
    _received.append(signum)
    for s in _SIGNALS:
        signal.signal(s, signal.SIG_IGN)  # a repeated signal must not cut the cleanup short
    raise _interrupt(signum)


@contextlib.contextmanager
def signals_as_interrupts():
    """Install the handlers for the block (main thread only; a signal the parent process
    ignores, as for background jobs, stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}
    for s in previous:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _received.clear()


def interruption() -> int | None:
    """The signal that interrupted the running command, if one did."""
    return _received[0] if _received else None


def raise_if_interrupted() -> None:
    """For code about to make an output visible: never after a signal, even a swallowed one."""
    if _received:
        raise _interrupt(_received[0])


@contextlib.contextmanager
def private_tempdir():
    """Point tempfile and TMPDIR (inherited by worker processes) at a fresh folder for the
    block, then remove it."""
    folder = tempfile.mkdtemp(prefix="edgeconv-")
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = folder
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def signals_deferred():
    """The renames that replace an output finish before a Ctrl-C or SIGTERM takes effect."""
    raise_if_interrupted()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
