"""`edgeconv validate`: a .tflite candidate against its reference on data."""
import json
from pathlib import Path

import click

from ..pipeline.steps.validate import ValidateConfig
from .options import (budget_options, budgets_from, data_option, echo_warnings, emit_json, force_option, import_option,
                      json_option, preprocess_from, preprocess_options, print_card, quiet, trust_option)
from .step_options import config_from, step_options


@click.command()
@click.argument("candidate", type=click.Path(path_type=Path))
@click.option("--reference", type=click.Path(path_type=Path), required=True,
              help="The float model: a Keras model file or a float .tflite.")
@data_option
@step_options(ValidateConfig)
@budget_options
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="Folder for report.json and report.md.")
@preprocess_options
@force_option
@trust_option
@import_option
@json_option
@click.pass_context
def validate(ctx, candidate, reference, data_spec, out, force, trust_model, code, as_json, **options):
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
    from ..output_safety import check_output
    from ..pipeline.context import Context
    from ..outputs import atomic_dir
    from ..pipeline.steps import validate as step
    from ..report import Report
    from ..report.files import write_report
    from ..tflite.kind import kind_of

    config = config_from(ValidateConfig, options)
    if out is not None:
        check_output(out, force, {"candidate model": candidate, "reference model": reference, "input data": data_spec,
                                  "ssh key": config.identity, "known_hosts file": config.known_hosts}, folder=True)
    step.open_runtime(config)  # an unknown or unavailable target fails before any work
    budgets = budgets_from(options)
    tflite, spec, data, names = candidate_data(candidate, data_spec, options)
    report = Report(f"edgeconv validate {candidate.name}")
    with quiet(ctx):
        context = Context(report, tflite=tflite, validation=data,
                          reference=open_reference(reference, trust_model, data, code, names))
        v = step.run(context, config, names=names)
    model = kind_of(tflite.read())  # the candidate's kind, e.g. int8
    budgets.apply(report, model)
    report.add("data", source=data.source, preprocess=json.loads(spec.to_json()))
    if out is not None:  # after the last figure: the files hold what --json prints
        with atomic_dir(out, force=force) as tmp:
            write_report(tmp, report)
    echo_warnings(report)
    if as_json:
        emit_json(report.to_dict())
    else:
        from ..report.summary import summary_card

        print_card(f"Validated {candidate.name} against {reference.name} on {v.samples:,} samples ({config.target})",
                   summary_card(report), _rows(v), _next_step(report, out))
    ctx.exit(0 if report.ok else 1)


def candidate_data(path: Path, data_spec: str, options: dict):
    """The candidate and the data as it takes them: its stored preprocessing (options override
    it) and inputs in the order of the names stored by convert. Returns (artifact, spec, data,
    names)."""
    from ..inputs.data import check_fits, in_order, load_dataset
    from ..pipeline.context import Artifact
    from ..tflite.metadata import edgeconv_info
    from ..tflite.reader import read_model_file

    info = read_model_file(path)  # a missing or damaged file gets its clear error here
    tflite = Artifact.of_file("tflite", path, keep=True)
    stored = edgeconv_info(tflite.read())
    spec, label_column = preprocess_from(options, data_spec, stored.get("preprocess"))
    names = stored.get("inputs") or info.input_names()  # the data's input order
    data = load_dataset(data_spec, spec, info.main.tensor(info.main.inputs[0]).shape, label_column, info.output_shapes(),
                        names)
    check_fits(data, in_order(info.input_shapes(), info.input_names(), names), str(path))
    return tflite, spec, data, names


def open_reference(path: Path, trust_model: bool, data, code: tuple[str, ...] = (), names: list[str] | None = None):
    """The reference model (a float .tflite Artifact or a Keras model); refused when `data`
    (inputs in the order of `names`) does not fit it."""
    from ..inputs.data import check_fits, in_order
    from ..inputs.models import input_shapes, load_model
    from ..pipeline.context import Artifact
    from ..tflite.reader import read_model_file

    if path.is_file() and (path.suffix.lower() == ".tflite" or path.read_bytes()[4:8] == b"TFL3"):
        info = read_model_file(path)  # a damaged .tflite gets the TFLite reader's error, not "not a Keras model"
        check_fits(data, in_order(info.input_shapes(), info.input_names(), names), str(path))
        return Artifact.of_file("tflite", path, keep=True)
    model = load_model(path, trust_model=trust_model, code=code)
    check_fits(data, input_shapes(model), str(path))
    return model


def _rows(v) -> list[tuple[str, str]]:
    """What the card does not hold: each output's error and the samples the candidate failed on."""
    rows = [(f"output {o.reference}", f"max |err| {o.max_abs:.3g}, cosine {o.cosine:.4f}, SNR {o.snr_db:.1f} dB")
            for o in v.outputs]
    if v.failures:
        rows.append(("failed samples", f"{len(v.failures)}; first #{v.failures[0].index} in {v.failures[0].op}"))
    return rows


def _next_step(report, out) -> str:
    if not report.ok:
        return "the failed checks above; `edgeconv convert` prints the layers that lose the most"
    if out is not None:
        return f"{out / 'report.html'} (plots) or report.json (every figure)"
    return "-o DIR writes report.html; budgets (--max-accuracy-drop, --max-arena-kb) make this a build gate"
