"""The cells of the matrix, kept in the repository (docs/conformance.json), so a fresh clone
renders the whole matrix and a partial run (`--models`, `--steps`) updates only its cells.

Each cell keeps its command with the paths written as {model} (the model's folder) and
{package} (this package): a cell whose command the code no longer gives is stale and runs
again; so does every cell with `--rerun`. The date and commit say when and on what code a
cell was taken. docs/conformance.md is rendered from this file.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path

from ..common import machine
from .matrix import Cell

ROOT = Path(__file__).resolve().parents[2]
PATH = ROOT / "docs" / "conformance.json"


def portable(argv: list[str], folder: Path, package: Path) -> list[str]:
    """The command with machine-specific paths replaced, so it compares across clones."""
    return [a.replace(str(folder), "{model}").replace(str(package), "{package}") for a in argv]


def commit() -> str:
    """HEAD's short hash, with +dirty when the code the cells depend on has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "converter", "benchmarks/conformance"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


class Store:
    def __init__(self, path: Path = PATH):
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {}
        self.data.setdefault("cells", {})
        self.data.setdefault("build_seconds", {})
        self._commit = commit()

    def cells(self, model: str) -> dict[str, Cell]:
        return {step: Cell(**fields) for step, fields in self.data["cells"].get(model, {}).items()}

    def put(self, model: str, step: str, cell: Cell) -> None:
        cell.date, cell.commit = cell.date or datetime.date.today().isoformat(), cell.commit or self._commit
        self._update(lambda data: data["cells"].setdefault(model, {}).__setitem__(step, asdict(cell)))

    def put_build(self, model: str, seconds: float) -> None:
        self._update(lambda data: data["build_seconds"].__setitem__(model, round(seconds, 1)))

    def merge(self, other: "Store") -> None:
        """Take `other`'s cells (e.g. those of a run kept in another file) over this one's."""
        def take(data):
            for model, cells in other.data["cells"].items():
                data["cells"].setdefault(model, {}).update(cells)
            data["build_seconds"].update(other.data["build_seconds"])
        self._update(take)

    def _update(self, change) -> None:
        """Re-read the file, change it and write it back atomically, under a lock: two runs may
        share the file, and an interrupted run keeps the cells taken so far."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.path.exists():
                self.data = json.loads(self.path.read_text())
            self.data.setdefault("cells", {})
            self.data.setdefault("build_seconds", {})
            change(self.data)
            self.data["machine"] = machine()  # of the latest change
            tmp = self.path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.data, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
            os.replace(tmp, self.path)
