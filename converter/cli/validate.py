"""`edgeconv validate`: a .tflite candidate against its reference on data."""
import json
from pathlib import Path

import click

from .options import (budget_options, budgets_from, data_option, echo_warnings, emit_json, force_option, json_option, preprocess_from,
                      preprocess_options, print_table, quiet, trust_option, import_option)


@click.command()
@click.argument("candidate", type=click.Path(path_type=Path))
@click.option("--reference", type=click.Path(path_type=Path), required=True,
              help="The float model: a Keras model file or a float .tflite.")
@data_option
@click.option("--kernels", type=click.Choice(["xnnpack", "reference"]), default="xnnpack", show_default=True,
              help="Host LiteRT kernels; 'reference' is the bit-exact oracle.")
@click.option("--target", default="host", show_default=True,
              help="Where the candidate runs: host, arm64 (emulated), micro, or ssh://user@host[:port].")
@click.option("--identity", type=click.Path(path_type=Path), help="ssh key for an ssh:// target.")
@click.option("--known-hosts", type=click.Path(path_type=Path), help="known_hosts file for an ssh:// target.")
@click.option("--remote-python", default="python3", show_default=True, help="Python on an ssh:// board.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Interpreter processes that share the samples (a native crash in one is reported, not fatal).")
@budget_options
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="Folder for report.json and report.md.")
@preprocess_options
@force_option
@trust_option
@import_option
@json_option
@click.pass_context
def validate(ctx, candidate, reference, data_spec, kernels, target, identity, known_hosts, remote_python, workers, out,
             force, trust_model, code, as_json, **options):
    """Compare CANDIDATE (.tflite) with its float reference: accuracy, agreement, errors.

    \b
    The preprocessing stored in CANDIDATE by `edgeconv convert` is applied to the data;
    preprocessing options given here override it.

    \b
    Example:
      edgeconv validate model_int8.tflite --reference model.keras --data test.npz \
          --max-accuracy-drop 1 --max-latency-ms 5 --max-arena-kb 64
      edgeconv validate model_int8.tflite --reference model.keras --data test.npz --target ssh://pi@raspberrypi
    """
    from ..inputs.data import check_fits, in_order, load_dataset
    from ..output_safety import check_output
    from ..outputs import atomic_dir
    from ..pipeline.steps import validate_stage
    from ..verify.figures import measure_stage
    from ..report import Report
    from ..report.render import to_html, to_markdown
    from ..targets.registry import open_runtime
    from ..targets.worker import ParallelSession
    from ..tflite.metadata import edgeconv_info
    from ..tflite.reader import read_model_file

    if out is not None:
        check_output(out, force, {"candidate model": candidate, "reference model": reference, "input data": data_spec,
                                  "ssh key": identity, "known_hosts file": known_hosts}, folder=True)
    runtime = None if target == "host" else open_runtime(target, kernels=kernels, identity=identity,
                                                         known_hosts=known_hosts, python=remote_python)
    info = read_model_file(candidate)
    model_bytes = candidate.read_bytes()
    budgets = budgets_from(options)
    spec, label_column = preprocess_from(options, data_spec, edgeconv_info(model_bytes).get("preprocess"))
    data = load_dataset(data_spec, spec, info.main.tensor(info.main.inputs[0]).shape, label_column, info.output_shapes())
    names = edgeconv_info(model_bytes).get("inputs") or info.input_names()  # the data's input order
    check_fits(data, in_order(info.input_shapes(), info.input_names(), names), str(candidate))
    report = Report(f"edgeconv validate {candidate.name}")
    with quiet(ctx):
        ref_session = open_reference(reference, trust_model, data, code, names)
        cand_session = ParallelSession(model_bytes, workers, kernels) if runtime is None else runtime.open(model_bytes)
        try:
            v = validate_stage(ref_session, cand_session, data, report, names)
            report.add("validation", target=target)
        finally:
            cand_session.close()
        measure_stage(model_bytes, "candidate", report, runtime=runtime)
    budgets.apply(report, "candidate")
    report.add("data", source=data.source, preprocess=json.loads(spec.to_json()))
    if out is not None:  # after the last figure: the files hold what --json prints
        with atomic_dir(out, force=force) as tmp:
            (tmp / "report.json").write_text(report.to_json())
            (tmp / "report.md").write_text(to_markdown(report))
            (tmp / "report.html").write_text(to_html(report))
    echo_warnings(report)
    if as_json:
        emit_json(report.to_dict())
    else:
        print_table(f"{candidate.name} vs {reference.name} on {v.samples} samples", _rows(v, report))
    ctx.exit(0 if report.ok else 1)


def open_reference(path: Path, trust_model: bool, data, code: tuple[str, ...] = (), names: list[str] | None = None):
    """A session of the reference model (float .tflite or Keras); refused when `data` (inputs
    in the order of `names`) does not fit it."""
    from ..inputs.data import check_fits, in_order
    from ..inputs.models import input_shapes, load_model
    from ..targets.host import HostRuntime
    from ..targets.keras import KerasSession
    from ..tflite.reader import read_model

    if path.is_file() and path.read_bytes()[4:8] == b"TFL3":
        info = read_model(path.read_bytes(), str(path))
        check_fits(data, in_order(info.input_shapes(), info.input_names(), names), str(path))
        return HostRuntime(kernels="reference").open(path.read_bytes())
    model = load_model(path, trust_model=trust_model, code=code)
    check_fits(data, input_shapes(model), str(path))
    return KerasSession(model)


def _rows(v, report) -> list[tuple[str, str]]:
    from ..verify.figures import arena_line

    pct = lambda a: "–" if a is None else f"{a * 100:.2f}%"  # noqa: E731
    lat = report.sections["latency"]["candidate"]
    rows = [("accuracy reference / candidate", f"{pct(v.reference_accuracy)} / {pct(v.candidate_accuracy)}"),
            ("agreement (top-1)", pct(v.agreement))]
    rows += [(f"output {o.reference}", f"max |err| {o.max_abs:.4g}, cosine {o.cosine:.4f}, SNR {o.snr_db:.1f} dB")
             for o in v.outputs]
    if v.candidate_top5 is not None:
        rows.insert(1, ("top-5 reference / candidate", f"{pct(v.reference_top5)} / {pct(v.candidate_top5)}"))
    if v.failures:
        rows.append(("failed samples", f"{len(v.failures)}; first #{v.failures[0].index} in {v.failures[0].op}"))
    rows.append((f"latency p50 / p90 ({lat['runtime']})", f"{lat['p50_ms']:.3f} / {lat['p90_ms']:.3f} ms"))
    rows.append(("tensor arena", arena_line(report.sections["memory"], "candidate")))
    rows.append(("checks", ", ".join(f"{'✓' if c.ok else '✗'} {c.name}" for c in report.checks) or "–"))
    return rows
