"""Where -o may point, checked before any work. An output never replaces an input, a folder
that holds an input, or the folder the user works in (or a parent of it). A folder is
replaced only when it is empty or holds nothing but what edgeconv wrote there, as listed by
the marker file edgeconv writes into every output folder."""
from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .errors import OutputExistsError, OutputPathError

MARKER = ".edgeconv-output.json"
_SHOWN = 5  # entries named in a refusal
_ASIDE = "choose another output path"


def check_output(out: Path, force: bool, inputs: Mapping[str, Path | str | None] | None = None,
                 folder: bool = False) -> None:
    """Fail if writing `out` (a file, or a folder when `folder`) could lose a user's file.
    `inputs` maps what each input is ("input model") to its path; an input that does not exist
    cannot be lost, so names that are not paths ('demo', a template) may be passed as they are."""
    out = Path(out)
    for label, given in (inputs or {}).items():
        if given is not None and Path(given).exists():
            _refuse_input(out, label, Path(given))
    _refuse_working_folder(out)
    _refuse_unwritable(out)
    if out.is_symlink() and not out.exists() and not force:  # a dangling link is still the user's file
        raise OutputExistsError(f"output {out} already exists (a link to {os.readlink(out)}, which is missing)",
                                hint="pass --force to replace the link, or choose another path")
    if not out.exists():
        _refuse_file_parent(out)
        return
    _refuse_other_kind(out, folder)
    if folder:
        _refuse_foreign_entries(out)
    if not force:
        raise OutputExistsError(f"output {out} already exists",
                                hint="pass --force to overwrite it, or choose another path")


def check_model_output(out: Path, force: bool, inputs: Mapping[str, Path | str | None] | None = None) -> None:
    """A saved model is a file or a SavedModel folder, and either may replace the other, so what
    is there only has to be replaceable: a file, or a folder edgeconv wrote."""
    check_output(out, force, inputs, folder=Path(out).is_dir())


def write_marker(folder: Path) -> None:
    """List what edgeconv wrote into `folder`, so a later run may replace exactly that."""
    entries = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    (folder / MARKER).write_text(json.dumps({"written_by": "edgeconv", "entries": entries}, indent=1) + "\n")


def _refuse_input(out: Path, label: str, path: Path) -> None:
    target = out.resolve()
    if path.resolve() == target or (out.exists() and os.path.samefile(out, path)):
        raise OutputPathError(f"-o {out} is the {label}; {_ASIDE}", hint="edgeconv never writes over an input")
    if target in path.resolve().parents:
        raise OutputPathError(f"-o {out} contains the {label} {path}; {_ASIDE}",
                              hint="a folder output replaces the whole folder; name a new folder for -o")


def _refuse_working_folder(out: Path) -> None:
    target, cwd = out.resolve(), Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        what = "the current folder" if target == cwd else "a parent of the current folder"
        raise OutputPathError(f"-o {out} is {what}; {_ASIDE}",
                              hint="a folder output replaces the whole folder; name a new subfolder, e.g. -o reports")


def _refuse_file_parent(out: Path) -> None:
    parent = next(p for p in out.absolute().parents if p.exists())
    if not parent.is_dir():
        raise OutputPathError(f"-o {out} is inside {parent}, which is a file; {_ASIDE}",
                              hint="put the output in a folder, e.g. -o out/model_int8.tflite")


def _refuse_unwritable(out: Path) -> None:
    """Outputs are staged beside their final place: probe that folder now, not after the work
    (a read-only file system or an immutable folder fails here even for root)."""
    parent = next(p for p in out.absolute().parents if p.exists())
    if not parent.is_dir():
        return  # _refuse_file_parent names this case
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise OutputPathError(f"-o {out} cannot be written: {parent} is not writable ({e.strerror})",
                              hint="choose a folder you can write to") from None


def _refuse_other_kind(out: Path, folder: bool) -> None:
    if folder and not out.is_dir():
        raise OutputPathError(f"-o {out} is a file, and this command writes a folder; {_ASIDE}",
                              hint="name a folder that does not exist yet, e.g. -o reports")
    if not folder and out.is_dir():
        raise OutputPathError(f"-o {out} is a folder, and this command writes a file; {_ASIDE}",
                              hint="name the file to write, e.g. -o model_int8.tflite")


def _refuse_foreign_entries(out: Path) -> None:
    foreign = list(itertools.islice(_foreign_entries(out), _SHOWN + 1))
    if foreign:
        listed = ", ".join(foreign[:_SHOWN]) + (", ..." if len(foreign) > _SHOWN else "")
        raise OutputPathError(f"-o {out} holds files edgeconv did not write ({listed}); it replaces only "
                              f"empty folders and its own output folders", hint=f"{_ASIDE}, or move those files away")


def _foreign_entries(out: Path):
    """Entries not listed in the marker, lazily: a large foreign folder is not walked."""
    listed = _listed(out / MARKER)
    if not listed:
        yield from (p.name for p in sorted(out.iterdir()) if p.name != MARKER)
        return
    for p in out.rglob("*"):
        name = p.relative_to(out).as_posix()
        if name != MARKER and name not in listed:
            yield name


def _listed(marker: Path) -> set[str]:
    try:
        return set(json.loads(marker.read_text())["entries"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()
