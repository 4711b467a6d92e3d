"""validate: run the converted model on a target beside its reference on the same data:
accuracy, agreement, per-output errors, and latency and memory measured on that target."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import ModelError
from ...settings import normalise, setting
from ..context import Artifact, Context

NAME = "validate"
PHASE = "model"
KERNELS = ("xnnpack", "reference")


@dataclass(frozen=True)
class ValidateConfig:
    target: str = setting("host",
                          help="Where the model runs: host, arm64 (emulated), micro, or ssh://user@host[:port].")
    kernels: str = setting("xnnpack", choices=KERNELS, help="LiteRT kernels; 'reference' is the bit-exact oracle.")
    workers: int = setting(2, low=1, high=64,
                           help="Host interpreter processes that share the samples (a native crash in one is "
                                "reported, not fatal).")
    identity: Path | None = setting(None, help="ssh key for an ssh:// target.")
    known_hosts: Path | None = setting(None, help="known_hosts file for an ssh:// target.")
    remote_python: str = setting("python3", help="Python on an ssh:// board.")

    def __post_init__(self):
        from ...targets.registry import target

        normalise(self, NAME)
        target(self.target)  # an unknown target fails here, before any model loads


def run(context: Context, config: ValidateConfig, names: list[str] | None = None):
    """Adds the `validation` section (and a check when samples failed) and the candidate's
    latency on the target. `names`: the data's input order, when it differs from the model's."""
    from ...tflite.kind import kind_of
    from ...tflite.reader import read_model
    from ...verify.compare import compare
    from ...verify.figures import measure_stage

    runtime = open_runtime(config)
    tflite = context.tflite.read()
    free = read_model(tflite).free_size_inputs()  # its figures would be for placeholder sizes
    if free and runtime.name != "host":
        raise ModelError(f"input(s) {', '.join(free)} have a free size, which only the host runtime sizes to the data",
                         hint="convert the Keras model with `edgeconv convert`, which fixes the size from the data, "
                              "or validate on the host")
    with reference_session(context) as reference, runtime.open(tflite) as candidate:
        v = compare(reference, candidate, context.validation, names)
        _warn_on_other_input_names(context.report, reference, candidate)
    _report(context, v, config)
    if free:
        context.report.warn(f"input(s) {', '.join(free)} have a free size: accuracy was measured at the data's size, "
                            "but latency, arena and MACs were not (the file holds only placeholder sizes); "
                            "`edgeconv convert` fixes the size from the data")
        return v
    on_host = runtime.name == "host"
    if not on_host or not context.report.model_figures("latency", kind_of(tflite)):  # once on the host
        measure_stage(tflite, context.report, runtime=None if on_host else runtime)  # host: timed with XNNPACK
    return v


def _warn_on_other_input_names(report, reference, candidate) -> None:
    """Inputs are matched by name; two models whose names differ get the data by position,
    which swaps same-shaped inputs silently when their orders differ."""
    ref, cand = list(getattr(reference, "input_names", None) or []), list(getattr(candidate, "input_names", None) or [])
    if len(ref) > 1 and sorted(ref) != sorted(cand):
        report.warn(f"the reference's inputs ({', '.join(ref)}) and the candidate's ({', '.join(cand)}) have other "
                    "names, so they were fed by position: check that the reference is this model's")


def _report(context: Context, v, config: ValidateConfig) -> None:
    report = context.report
    report.add("validation", **v.to_dict(), data=context.validation.source, target=config.target)
    for o in v.outputs:
        if o.constant:
            report.warn(f"the candidate's output '{o.candidate}' is the same for every sample while the reference's "
                        "varies: the model may have collapsed (an activation range or input scale far off)")
    if v.failures:
        f = v.failures[0]
        report.check("every sample ran", False, f"{len(v.failures)} sample(s) failed; first: sample {f.index}, "
                                                 f"op {f.op}: {f.message}")


def open_runtime(config: ValidateConfig):
    """The target's runtime; on the host the samples go to worker processes (a native crash in
    one is a failed sample, not a dead command)."""
    from ...targets.registry import open_runtime as open_target

    return open_target(config.target, kernels=config.kernels, workers=config.workers, identity=config.identity,
                       known_hosts=config.known_hosts, python=config.remote_python)


def reference_session(context: Context):
    """The reference as a session: a float .tflite on the reference kernels, or the Keras model."""
    from ...targets.host import HostRuntime
    from ...targets.keras import KerasSession

    if isinstance(context.reference, Artifact):
        return HostRuntime(kernels="reference").open(context.reference.read())
    return KerasSession(context.reference)


CONFIG = ValidateConfig
