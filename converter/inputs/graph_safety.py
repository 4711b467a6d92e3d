"""Find what a SavedModel's TensorFlow graph would do to the machine, by reading
saved_model.pb as protobuf data: nothing is loaded or run.

A SavedModel is a TF program. Loading it restores variables and runs its init ops, and
calling its functions runs any op they hold: ops that read or write files, or call back into
Python, act on the machine, not on tensors. TF's own checkpoint functions (the traced
save/restore functions that tf.saved_model.save writes, and TF1's `save/` scope) need the
checkpoint ops; anywhere else those ops are refused too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import keras_env
from ..errors import ModelError

_FILES = {"ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst",
          "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
          "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2", "FixedLengthRecordReader",
          "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2", "IdentityReader", "IdentityReaderV2",
          "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
          "FixedLengthRecordDatasetV2", "DatasetToTFRecord", "SaveDataset", "SaveDatasetV2", "LoadDataset",
          "SnapshotDataset", "SnapshotDatasetV2", "CacheDataset", "CacheDatasetV2", "DebugIdentityV2",
          "DebugIdentityV3"}
_PYTHON = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
_SUMMARIES = {"CreateSummaryFileWriter", "CreateSummaryDbWriter", "SummaryWriter", "WriteSummary",
              "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary",
              "WriteGraphSummary", "WriteRawProtoSummary", "ImportEvent", "FlushSummaryWriter",
              "CloseSummaryWriter"}
_SAVE_OPS = {"Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints"}
_RESTORE_OPS = {"Restore", "RestoreV2", "RestoreSlice"}
CHECKPOINT_OPS = _SAVE_OPS | _RESTORE_OPS
_CHECKPOINT_FUNCTION = re.compile(r"__inference__traced_(save|restore)_\d+$")


@dataclass(frozen=True)
class GraphOffence:
    op: str
    node: str
    function: str  # "(graph)" for the top-level graph

    def describe(self) -> str:
        where = "the top-level graph" if self.function == "(graph)" else f"function '{self.function}'"
        return f"op {self.op} (node '{self.node}' in {where}) {_reason(self.op)}"


def refuse_graph_ops(path: Path) -> None:
    """Raise ModelError naming the first op of the SavedModel at `path` that acts outside
    the model (files, Python, summaries), and where it is."""
    offences = graph_offences(_read(path / "saved_model.pb"))
    if offences:
        more = f" (and {len(offences) - 1} more)" if len(offences) > 1 else ""
        raise ModelError(f"{path.name} would act on this machine when loaded or run: "
                         f"{offences[0].describe()}{more}",
                         hint="if you trust the model's author, pass --trust-model")


def graph_offences(saved_model) -> list[GraphOffence]:
    found = []
    for meta in saved_model.meta_graphs:
        library = {f.signature.name: f for f in meta.graph_def.library.function}
        allowed = _checkpoint_functions(library)  # function -> the checkpoint ops it may hold
        scope = _saver_scope(meta)
        for node in meta.graph_def.node:
            if not (node.op in CHECKPOINT_OPS and scope and node.name.startswith(scope)):
                found += _check(node, "(graph)")
        for name, function in library.items():
            for node in function.node_def:
                if node.op not in allowed.get(name, ()):
                    found += _check(node, name)
    return found


def _check(node, function: str) -> list[GraphOffence]:
    banned = node.op in _FILES | _PYTHON | _SUMMARIES | CHECKPOINT_OPS
    return [GraphOffence(node.op, node.name, function)] if banned else []


def _checkpoint_functions(library: dict) -> dict[str, set[str]]:
    """TF's traced save functions may save and its restore functions restore, as long as no
    other function calls them (only the top-level graph's saver does): a crafted function
    under such a name gains nothing."""
    called = {ref for f in library.values() for node in f.node_def for ref in _calls(node, library)}
    kinds = {name: _CHECKPOINT_FUNCTION.match(name) for name in library if name not in called}
    return {name: _SAVE_OPS if m.group(1) == "save" else _RESTORE_OPS for name, m in kinds.items() if m}


def _calls(node, library: dict) -> set[str]:
    refs = {node.op} & library.keys()
    for attr in node.attr.values():
        if attr.HasField("func"):
            refs.add(attr.func.name)
        refs |= {f.name for f in attr.list.func}
    return refs


def _saver_scope(meta) -> str:
    """TF1 graphs keep their checkpoint ops under the saver's name scope (e.g. 'save/')."""
    name = meta.saver_def.restore_op_name
    return name.rsplit("/", 1)[0] + "/" if "/" in name else ""


def _reason(op: str) -> str:
    if op in _PYTHON:
        return "calls Python code"
    if op in _SUMMARIES:
        return "writes summary files"
    if op in CHECKPOINT_OPS:
        return "reads or writes checkpoint files outside TF's own save/restore functions"
    return "reads or writes files"


def _read(pb: Path):
    """Parse saved_model.pb (protobuf classes only; no graph is imported or run)."""
    keras_env.tf()  # the protobuf classes ship inside TensorFlow
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    message = saved_model_pb2.SavedModel()
    try:
        message.ParseFromString(pb.read_bytes())
    except (DecodeError, OSError) as e:
        raise ModelError(f"cannot read {pb}: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}",
                         hint="check that the SavedModel folder is complete") from None
    return message
