"""What steps share while they run: the model as the steps change it, the data, the artifacts
made so far and the one Report. A recipe run and a CLI command each build one Context and
call the same step functions on it."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..inputs.data import Dataset
from ..inputs.preprocess import Preprocess
from ..report import Report


@dataclass(frozen=True)
class Artifact:
    """A file a step made (or was given): what it is, where it is, its hash and what it was
    made from. The bytes are kept for .tflite models, which the next steps run."""

    kind: str  # "keras", "tflite", "firmware", "mobile", ...
    path: Path | None
    sha256: str
    parent: str | None = None  # sha256 of the artifact it was made from
    data: bytes | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of_bytes(cls, kind: str, data: bytes, path: Path | None = None, parent: Artifact | None = None) -> Artifact:
        return cls(kind, path, hashlib.sha256(data).hexdigest(), parent.sha256 if parent else None, data)

    @classmethod
    def of_file(cls, kind: str, path: Path, parent: Artifact | None = None, keep: bool = False) -> Artifact:
        data = path.read_bytes()
        return cls(kind, path, hashlib.sha256(data).hexdigest(), parent.sha256 if parent else None,
                   data if keep else None)

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()

    @property
    def name(self) -> str:
        return self.path.name if self.path else f"model.{self.kind}"


@dataclass
class Context:
    report: Report
    seed: int = 0
    folder: Path | None = None  # where a recipe run writes each step's artifacts; None: the caller saves
    model: object = None  # the Keras model as the training steps change it
    reference: object = None  # what candidates are judged against: the model as given, or a float .tflite Artifact
    calibration: Dataset | None = None
    validation: Dataset | None = None
    preprocess: Preprocess = field(default_factory=Preprocess)
    tflite: Artifact | None = None  # the converted model
    artifacts: list[Artifact] = field(default_factory=list)
    measure: bool = True  # the convert step also measures its result (a recipe's report describes its model)
    trust_model: bool = False  # student model files may run their code
    code: tuple[str, ...] = ()  # user modules imported before loading models
    verbose: bool = False  # Keras progress bars while training
    progress: Callable[[str], None] = lambda message: None

    def keep(self, artifact: Artifact) -> Artifact:
        self.artifacts.append(artifact)
        return artifact

    def save_model(self, model, name: str) -> None:
        """A recipe keeps every intermediate model in its folder; a CLI command saves its own -o."""
        if self.folder is None:
            return
        from ..inputs.models import save_model

        path = self.folder / name
        save_model(model, path)
        if path.is_file():
            self.keep(Artifact.of_file("keras", path))

    def write(self, name: str, data: bytes, kind: str, parent: Artifact | None = None) -> Artifact:
        """An artifact of this run: written into the run's folder when there is one."""
        path = None
        if self.folder is not None:
            path = self.folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return self.keep(Artifact.of_bytes(kind, data, path, parent))
