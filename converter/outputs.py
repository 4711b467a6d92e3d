"""Atomic outputs: write to a temporary name, then rename; never overwrite without force.
Where an output may go at all is output_safety's concern; every writer here checks it."""
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .interrupts import signals_deferred
from .output_safety import check_model_output, check_output, write_marker


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes, force: bool = False) -> Path:
    path = Path(path)
    check_output(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs get the usual mode
        _move_into_place(Path(tmp), path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_text(path: Path, text: str, force: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), force)


@contextlib.contextmanager
def atomic_dir(path: Path, force: bool = False):
    """Yield a temporary folder that replaces `path` only when the block succeeds; it gets
    the marker that lets a later run replace it."""
    path = Path(path)
    check_output(path, force, folder=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _staging_dir(path)
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        write_marker(tmp)
        _move_into_place(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_atomically(save, obj, out: Path, force: bool = False) -> None:
    """For writers that write files themselves (Keras' model.save): save into a temporary
    sibling folder, then move the result into place."""
    out = Path(out)
    check_model_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _staging_dir(out)
    try:
        save(obj, tmp / out.name)
        if (tmp / out.name).is_dir():
            write_marker(tmp / out.name)
        _move_into_place(tmp / out.name, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _staging_dir(path: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))


def _move_into_place(new: Path, path: Path) -> None:
    """Replace `path` (checked to be replaceable) by `new`: a file by a file in one rename;
    otherwise the previous output moves into a hidden folder that is deleted once `new` is in place."""
    with signals_deferred():
        if not path.exists() or not (path.is_dir() or new.is_dir()):
            os.replace(new, path)
            return
        aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, aside / path.name)
        os.replace(new, path)
        shutil.rmtree(aside, ignore_errors=True)
