"""Keep the console for edgeconv's own messages.

TensorFlow, the TFLite converter and LiteRT write their C++ logs straight to file descriptor 2.
Unless --verbose is given, that descriptor is pointed at a log file while edgeconv keeps
writing to the real terminal through a duplicate, so errors can still point at the log.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from pathlib import Path


def log_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "edgeconv" / "last-run.log"


@contextlib.contextmanager
def native_logs_to_file(path: Path | None = None):
    path = path or log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved_fd = os.dup(2)
    saved_stderr = sys.stderr
    with open(path, "w") as log, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TF and TFMOT warnings are noise at this level
        os.dup2(log.fileno(), 2)
        if _is_fd2(saved_stderr):  # under a test runner sys.stderr is already elsewhere
            sys.stderr = os.fdopen(os.dup(saved_fd), "w", buffering=1)
        handler = logging.StreamHandler(log)
        logging.getLogger().addHandler(handler)
        try:
            yield path
        finally:
            logging.getLogger().removeHandler(handler)
            if sys.stderr is not saved_stderr:
                sys.stderr.close()
                sys.stderr = saved_stderr
            os.dup2(saved_fd, 2)
            os.close(saved_fd)


def _is_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def quiet_python_warnings():
    """TensorFlow's Python-level deprecation chatter (e.g. about tf.lite.Interpreter) is not
    the user's concern when edgeconv calls TensorFlow on their behalf."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def stdout_kept_clean():
    """What libraries print while a step runs (Keras progress from Python; the TFLite
    converter's `fully_quantize: 0, ...` from C++ on file descriptor 1) goes to stderr, so a
    script's stdout holds only what the script prints."""
    sys.stdout.flush()
    saved_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
