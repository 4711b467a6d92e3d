"""Recovery that stays fully integer: when the int8 model misses an accuracy budget, give the
layers that need it 16-bit activations (int8 weights, int8 model inputs and outputs), until the
budget holds with as much of the model in int8 as possible.

The search starts from every op in 16 bits, the most accurate integer model, then returns
groups (a Keras layer's ops and the ops that read its tensors) to int8, least sensitive first,
keeping each return that holds the budget. A group's sensitivity is measured: the model's
output SNR against the float model when every op but the group's runs in 16 bits. Predicting
it from ranges misleads: a tensor's expected int8 SNR (export/calibration.py's histograms, the
`ranking` in the report) averages over samples, so logits whose quiet samples need 16 bits look
fine (33 dB on the benchmark's `tones`, where they cause most of the 26-point drop); and moving
layers to 16 bits one by one from int8 gains nothing until every bottleneck on a path has moved.

Per-op int16 inside an int8 model is what the TFLite converter cannot do (its int16x8 mode is
whole-model), so the mixed model comes from litert-quantizer 0.11.0 (pins ai-edge-litert 2.3.0,
as we do). It quantizes the converter's calibrated float model (export/calibration.py), so the
tensor names are the same and it takes our ranges: the chosen calibration method's for int8
tensors, the full min/max range for the outputs of moved layers (16 bits have the resolution
to keep outliers). Its own calibration is a moving average of per-batch min/max, which would
clip; we only use it to learn which tensors it wants ranges for.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CheckFailed, ConversionError
from ..inputs.data import Dataset
from ..progress import task
from ..tflite.integer_check import layer_of
from ..tflite.reader import read_model
from .int8_outputs import INT16_SUFFIX, requantize_outputs

SENSITIVITY_CANDIDATES = 32  # groups whose sensitivity is measured (one mixed model each), worst int8 SNR first


@dataclass
class Step:
    """The model after moving `moved` layers to int16, with what that cost."""

    moved: list[str]
    accuracy_drop: float  # points
    size_bytes: int
    latency_p50_ms: float
    arena_estimate_bytes: int  # 32-bit MCU estimate
    tflite_micro: str  # "loads" (tflite-micro allocated it: every kernel's Prepare accepted its types) or why not

    def to_dict(self, before: Step | None) -> dict:
        d = {"moved": list(self.moved), "accuracy_drop": round(self.accuracy_drop, 3), "size_bytes": self.size_bytes,
             "latency_p50_ms": round(self.latency_p50_ms, 4), "arena_estimate_bytes": self.arena_estimate_bytes,
             "tflite_micro": self.tflite_micro}
        if before is not None:
            d["cost"] = {"size_bytes": self.size_bytes - before.size_bytes,
                         "latency_p50_ms": round(self.latency_p50_ms - before.latency_p50_ms, 4),
                         "arena_estimate_bytes": self.arena_estimate_bytes - before.arena_estimate_bytes}
        return d


@dataclass
class Recovery:
    needed: bool
    budget: float  # points
    float_accuracy: float
    int8_accuracy_drop: float  # points, the converter's int8 model
    tflite: bytes | None = None  # the mixed model, when one was needed
    steps: list[Step] = field(default_factory=list)  # litert-quantizer's all-int8 model first
    ranking: list[dict] = field(default_factory=list)  # ops' output tensors, worst int8 SNR first
    sensitivity: list[dict] = field(default_factory=list)  # groups, measured, most sensitive first
    skipped: list[dict] = field(default_factory=list)  # moves tflite-micro could not load, with why

    def summary(self) -> dict:
        d = {"needed": self.needed, "budget_points": self.budget, "float_accuracy": self.float_accuracy,
             "int8_accuracy_drop": round(self.int8_accuracy_drop, 3)}
        if self.needed:
            d.update(ranking=self.ranking, sensitivity=self.sensitivity, moved=self.steps[-1].moved, accuracy_drop=round(self.steps[-1].accuracy_drop, 3),
                     steps=[s.to_dict(self.steps[k - 1] if k else None) for k, s in enumerate(self.steps)],
                     skipped_for_tflite_micro=self.skipped)
        return d


class FloatReference:
    """The float model as the reference session, its outputs computed once per chunk of
    samples: recovery compares dozens of candidates with it on the same labelled samples."""

    def __init__(self, model):
        from ..targets.keras import KerasSession

        self._session = KerasSession(model)
        self.input_names, self.output_names = self._session.input_names, self._session.output_names
        self.failures: list = []  # Keras raises instead of failing one sample
        self._outputs: dict = {}

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        key = tuple(hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).digest() for x in inputs)
        if key not in self._outputs:
            self._outputs[key] = self._session.predict(inputs)
        return self._outputs[key]


def accuracy_drop(model, tflite: bytes, labelled: Dataset) -> tuple[float, float]:
    """(float accuracy, int8 drop in points) on labelled samples; `model`: the float Keras
    model or its FloatReference."""
    from ..targets.host import HostSession
    from ..verify.compare import compare

    with HostSession(tflite) as candidate:
        v = compare(_reference(model), candidate, labelled)
    if v.reference_accuracy is None:
        raise CheckFailed("the accuracy budget needs labelled data for a classifier",
                          hint="give data with labels (an .npz with y, or a folder per class)")
    return v.reference_accuracy, v.accuracy_drop * 100


def recover(model, int8: bytes, calib: Dataset, labelled: Dataset, options, budget: float,
            micro: bool = False) -> Recovery:
    """`options` is the ConvertOptions the int8 model was made with; `budget` in points. With
    `micro`, every model kept must load in tflite-micro (it has 16x8 kernels for some ops only:
    allocating the model runs every kernel's Prepare)."""
    reference = _reference(model)
    float_accuracy, drop = accuracy_drop(reference, int8, labelled)
    if drop <= budget:
        return Recovery(False, budget, float_accuracy, drop)
    if options.io_type != "int8":
        raise ConversionError(f"recovery makes models with int8 inputs and outputs, not {options.io_type}",
                              hint="use --io int8 with --recover")
    calibration, method, names = _calibration(model, calib, options)
    info = read_model(calibration.calibrated)
    graph, labels = info.main, _output_labels(info)
    ranking, listed = _ranking(calibration, calibration.ranges(method), graph, labels)
    build = _Builder(calibration, method, graph, labels, litert_ranges(calibration.calibrated, calib, names), int8)
    groups = _layer_groups(graph, ranking)
    # measured: the worst by int8 SNR and those that make a model output (logits that only some
    # samples need in 16 bits have a fine average SNR); the rest are taken as the least sensitive
    candidates = [g for k, g in enumerate(groups) if k < SENSITIVITY_CANDIDATES or _makes_output(graph, g)]
    measured = _sensitivity(build, candidates, reference, labelled)
    result = Recovery(True, budget, float_accuracy, drop, ranking=listed,
                      sensitivity=[{"layers": _layers(build, g), "output_snr_db": snr} for g, snr in measured])
    # back to int8 least sensitive first: the unmeasured groups (best int8 SNR last), then the measured
    order = [g for g in groups if g not in candidates][::-1] + [g for g, _ in measured[::-1]]
    return _search(result, build, order, reference, labelled, micro)


def _reference(model) -> FloatReference:
    return model if isinstance(model, FloatReference) else FloatReference(model)


def _makes_output(graph, group: list[int]) -> bool:
    return any(o in graph.outputs for op in group for o in graph.operators[op].outputs)


def _search(result: Recovery, build, order: list[list[int]], model, labelled: Dataset, micro: bool) -> Recovery:
    """Every op in 16 bits first (the most accurate integer model; with `micro`, but the groups
    tflite-micro cannot run so); then each group of `order` back to int8 when the budget still
    holds without it. Steps: the all-int8 model, the all-16-bit one, then each group returned."""
    graph = build.graph
    result.steps.append(_measured(model, build([]), labelled))
    wide = _loadable_in_micro(result, build, order) if micro else [op.index for op in graph.operators]
    mixed = build(wide)
    result.steps.append(_measured(model, mixed, labelled))
    _check_start(result.steps[-1], result.budget, micro)
    with task("recovery: layers back to int8", len(order)) as advance:
        for group in order:
            advance()
            narrower = [op for op in wide if op not in group]
            if narrower == wide:
                continue
            candidate = build(narrower)
            drop = accuracy_drop(model, candidate, labelled)[1]
            if drop > result.budget:
                continue
            step = _measured(model, candidate, labelled, drop)
            if not micro or step.tflite_micro == "loads":
                wide, mixed = narrower, candidate
                result.steps.append(step)
    _check_integer(mixed)
    result.tflite = mixed
    return result


def _check_start(start: Step, budget: float, micro: bool) -> None:
    if micro and start.tflite_micro != "loads":
        raise ConversionError(f"tflite-micro cannot run the mixed int8/int16 model: {start.tflite_micro}",
                              hint="convert without --target micro, or use QAT (edgeconv qat)")
    if start.accuracy_drop > budget:
        raise CheckFailed(f"even with 16-bit activations in every op that can take them the accuracy drop is "
                          f"{start.accuracy_drop:.2f} points, above the budget of {budget:g}",
                          hint="raise --max-accuracy-drop, or use QAT (edgeconv qat)")


def _loadable_in_micro(result: Recovery, build, order: list[list[int]]) -> list[int]:
    """Every op but those of the groups tflite-micro cannot load in 16 bits (each group tried
    alone, the rest in int8: allocating runs every kernel's Prepare), which are listed as
    skipped with tflite-micro's reason."""
    from ..targets.micro import MicroRuntime, measure_arena

    available = MicroRuntime().availability()
    if not available.ok:
        raise ConversionError(f"--target micro checks each 16-bit layer in tflite-micro: {available.reason}",
                              hint=available.install)
    excluded: set[int] = set()
    with task("recovery: 16-bit layers tflite-micro loads", len(order)) as advance:
        for group in order:
            advance()
            loads, why = measure_arena(build(group))
            if not loads:
                result.skipped.append({"layers": _layers(build, group), "why": why})
                excluded.update(group)
    return [op.index for op in build.graph.operators if op.index not in excluded]


class _Builder:
    """Mixed models of one calibration: `build(ops)` runs `ops` (indices) with 16-bit activations,
    the rest in int8; an int16 model output gets the int8 model's output quantization."""

    def __init__(self, calibration, method: str, graph, labels: dict, theirs: dict, int8: bytes):
        self.calibration, self.graph, self.labels, self.theirs, self.int8 = calibration, graph, labels, theirs, int8
        self.full = {calibration.names[i]: r for i, r in calibration.ranges("minmax").items()}
        self.clipped = {calibration.names[i]: r for i, r in calibration.ranges(method).items()}

    def __call__(self, ops: list[int]) -> bytes:
        wide = [_outputs(self.graph, op) for op in ops]
        return requantize_outputs(
            mixed_model(self.calibration.calibrated, wide, self.theirs, self.clipped, self.full), self.int8)


def _sensitivity(build: _Builder, groups: list[list[int]], model, labelled: Dataset) -> list[tuple[list[int], float]]:
    """Each group with the model's output SNR (dB, the worst output against the float model on
    the labelled samples) when every op runs with 16-bit activations but the group's, most
    sensitive (lowest) first; groups go back to int8 in the reverse order. Measured, not predicted from ranges: a tensor's int8 SNR averages over
    samples, so logits whose quiet samples need 16 bits look fine (33 dB on `tones`, where they
    cause most of the drop)."""
    from ..targets.host import HostSession
    from ..verify.compare import compare

    every = [op.index for op in build.graph.operators]
    scored = []
    with task("recovery: sensitivity of each layer", len(groups)) as advance:
        for group in groups:
            with HostSession(build([op for op in every if op not in group])) as candidate:
                v = compare(model, candidate, labelled)
            scored.append((group, round(min(o.snr_db for o in v.outputs), 3)))
            advance()
    return sorted(scored, key=lambda gs: gs[1])


def _ranking(calibration, ranges8: dict, graph, labels: dict) -> tuple[list[int], list[dict]]:
    """Op outputs (tensor indices), worst expected int8 SNR first, and the same for the report."""
    snr = calibration.int8_snr_db(ranges8)
    ranking = [i for i in sorted(snr, key=snr.get) if i not in calibration.graph_inputs]
    name = lambda i: graph.tensor(i).name  # noqa: E731
    return ranking, [{"layer": _label(name(i), labels), "tensor": name(i), "int8_snr_db": snr[i]} for i in ranking]


def _output_labels(info) -> dict[str, str]:
    """{model output tensor name: its signature name}: the converter names an output tensor
    'StatefulPartitionedCall:0', which says nothing; the signature keeps the Keras output's name."""
    if not info.signatures:
        return {}
    return {info.main.tensor(i).name: name for name, i in info.signatures[0].outputs.items()}


def _label(tensor_name: str, labels: dict) -> str:
    return labels.get(tensor_name) or layer_of(tensor_name)


def _layer_groups(graph, ranking: list[int]) -> list[list[int]]:
    """One move per Keras layer, in the order of its worst tensor in `ranking`: the ops that make
    the layer's tensors and the ops that read them, so those tensors are 16-bit end to end. An op
    that makes a model output may move: its int16 output is requantized to the int8 model's
    output quantization (int8_outputs.py), so the I/O stays int8."""
    by_layer: dict[str, set[int]] = {}
    for tensor in ranking:
        ops = [op.index for op in graph.operators if tensor in op.outputs or tensor in op.inputs]
        by_layer.setdefault(layer_of(graph.tensor(tensor).name), set()).update(ops)
    return [sorted(ops) for ops in by_layer.values()]


def _outputs(graph, op: int) -> list[str]:
    return [graph.tensor(o).name for o in graph.operators[op].outputs if o >= 0]


def _layers(build: _Builder, ops: list[int]) -> list[str]:
    return list(dict.fromkeys(_label(_outputs(build.graph, op)[0], build.labels) for op in ops))


def _check_integer(mixed: bytes) -> None:
    from ..tflite.integer_check import prove_integer

    proof = prove_integer(read_model(mixed, "mixed int8/int16 model"), "int8")
    if not proof.ok:
        problems = [*proof.io_problems, *(o.describe() for o in proof.offences)]
        raise ConversionError(f"the mixed int8/int16 model is not fully integer: {'; '.join(problems[:3])}",
                              hint="report this model; use QAT (edgeconv qat) meanwhile")


def _calibration(model, calib: Dataset, options):
    """The calibration statistics, the method the int8 model used (auto's choice again: the
    same samples give the same choice) and the input names."""
    from .calibration import calibrate
    from .tflite import fixed_shapes, make_converter, signature_input_names

    shapes = fixed_shapes(model, calib)
    names = signature_input_names(model, len(shapes))
    method = options.calibration if options.calibration != "auto" else None
    calibration = calibrate(make_converter(model, options, shapes), calib, options.percentile, names,
                            keep_back=method is None)
    if method is None:
        from .calibration import choose

        method, _ = choose(calibration, options.per_channel, options.io_type, names)
    return calibration, method, names


def litert_ranges(float_model: bytes, calib: Dataset, names: list[str]) -> dict:
    """litert-quantizer's own calibration: which tensors it wants ranges for (values are replaced
    by ours where we have them, see `mixed_model`)."""
    from litert_quantizer import quantizer, recipe

    with _float_file(float_model) as path, _quiet():
        q = quantizer.Quantizer(str(path))
        q.load_quantization_recipe(recipe.static_wi8_ai8())
        samples = [{n: x[k:k + 1].astype(np.float32) for n, x in zip(names, calib.inputs)} for k in range(len(calib))]
        return q.calibrate({"serving_default": samples})


def mixed_model(float_model: bytes, int16_ops: list[list[str]], theirs: dict, ranges8: dict, ranges16: dict) -> bytes:
    """litert-quantizer: int8 weights everywhere, 16-bit activations in the ops given by their
    output names (an op's scope is its output names, each followed by ';'). The outputs of those
    ops keep their whole range: 16 bits have the steps to spare."""
    from litert_quantizer import quantizer, recipe

    wide = {name for outputs in int16_ops for name in outputs}
    qsvs = {name: _qsv((ranges16 if name in wide else ranges8).get(name), v) for name, v in theirs.items()}
    with _float_file(float_model) as path, _quiet():
        q = quantizer.Quantizer(str(path))
        q.load_quantization_recipe(recipe.static_wi8_ai8())
        for outputs in int16_ops:
            q.add_static_config(regex="^" + re.escape(";".join(outputs) + ";") + "$", operation_name="*",
                                activation_num_bits=16, weight_num_bits=8)
        return bytes(q.quantize(qsvs, enable_progress_report=False).quantized_model)


@contextlib.contextmanager
def _float_file(float_model: bytes):
    with tempfile.TemporaryDirectory(prefix="edgeconv-recover-") as tmp:
        path = Path(tmp) / "float.tflite"
        path.write_bytes(float_model)
        yield path


def _qsv(ours: tuple[float, float] | None, theirs: dict) -> dict:
    if ours is None or not theirs:
        return theirs
    shape = np.shape(theirs["min"])
    return {"min": np.full(shape, ours[0], np.float32), "max": np.full(shape, ours[1], np.float32)}


def _measured(model, mixed: bytes, labelled: Dataset, drop: float | None = None) -> Step:
    """The step's figures; `drop` when the caller has just measured it."""
    from ..targets.host import HostSession
    from ..targets.micro import measure_arena
    from ..tflite.arena import arena_figures

    if drop is None:
        _, drop = accuracy_drop(model, mixed, labelled)
    with HostSession(mixed) as session:
        p50 = session.benchmark(runs=50, warmup=5).p50_ms
    measured, why = measure_arena(mixed)
    return Step(_int16_layers(mixed), drop, len(mixed), p50, arena_figures(read_model(mixed))["arena_estimate_bytes"],
                "loads" if measured else why)


def _int16_layers(mixed: bytes) -> list[str]:
    """The layers whose ops have 16-bit outputs in the model as built: litert-quantizer leaves an
    op it has no 16-bit scheme for in int8, so what was asked is not always what was made."""
    info = read_model(mixed)
    labels, main = _output_labels(info), info.main
    outputs = [main.tensor(op.outputs[0]) for op in main.operators if op.op != "QUANTIZE" and op.outputs]
    return list(dict.fromkeys(_label(t.name.removesuffix(INT16_SUFFIX), labels) for t in outputs if t.dtype == "int16"))


@contextlib.contextmanager
def _quiet():
    """litert-quantizer prints progress bars and summaries: keep them off our stdout (--json)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield
