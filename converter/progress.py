"""Progress of long work (training epochs, calibration): the library reports it here, and the
CLI shows it as a bar with an ETA when stderr is a terminal. Nothing is shown otherwise: on a
pipe, with --json, or when the library is used from Python."""
from __future__ import annotations

import contextlib

_show = None  # set by the CLI: (description, total) -> context manager yielding advance(n)


def active() -> bool:
    return _show is not None


@contextlib.contextmanager
def task(description: str, total: int):
    """`with task("calibrating", 200) as advance:` ... `advance(n)`; a no-op when nobody shows it."""
    if _show is None or total <= 0:
        yield lambda n=1: None
        return
    with _show(description, total) as advance:
        yield advance


@contextlib.contextmanager
def shown_by(show):
    global _show
    previous, _show = _show, show
    try:
        yield
    finally:
        _show = previous
