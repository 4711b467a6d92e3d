"""`edgeconv convert`: Keras model + representative data -> verified .tflite."""
from pathlib import Path

import click

from .options import (data_option, echo_warnings, emit_json, model_command_options, preprocess_from, preprocess_options,
                      print_table, quiet)

from ..pipeline.steps.convert import CALIBRATED, ConvertConfig
from .step_options import config_from, step_options


@click.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@data_option
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="The .tflite file to write.")
@step_options(ConvertConfig)
@preprocess_options
@model_command_options
@click.pass_context
def convert(ctx, model_path, data_spec, out, seed, force, trust_model, code, as_json, **options):
    """Convert a Keras model to TFLite and prove the result is what was asked for.

    \b
    Example:
      edgeconv convert model.keras --data calib.npz -o model_int8.tflite
      edgeconv convert model.h5 --data images/ --scale 1/255 --io uint8 -o model_uint8.tflite
    """
    from ..inputs.data import check_data_path, load_dataset
    from ..inputs.models import input_names, input_shapes, load, model_format, output_shapes
    from ..output_safety import check_output
    from ..outputs import write_bytes
    from ..pipeline.context import Context
    from ..pipeline.steps import convert as step
    from ..report import Report

    check_output(out, force, {"input model": model_path, "input data": data_spec})
    config = config_from(ConvertConfig, options)
    spec, label_column = preprocess_from(options, data_spec)
    model_format(model_path)  # fails fast, before TensorFlow is imported
    check_data_path(data_spec)
    report = Report(f"edgeconv convert {model_path.name}")
    with quiet(ctx):
        loaded = load(model_path, trust_model=trust_model, code=code)
        report.add("model", path=str(model_path), format=loaded.format, keras_version=loaded.keras_version,
                   kind=loaded.kind, intake=loaded.intake)
        data = load_dataset(data_spec, spec, input_shapes(loaded.model)[0], label_column, output_shapes(loaded.model),
                            input_names(loaded.model))
        context = Context(report, seed=seed, model=loaded.model, calibration=data, preprocess=spec, measure=False)
        result = step.run(context, config)  # calibration shows a progress bar on a terminal
    write_bytes(out, result.tflite, force=force)
    report.add("output", path=str(out))
    echo_warnings(report)
    if as_json:
        emit_json(report.to_dict())
    else:
        _print(report, result, config, model_path, out, data_spec, seed)
    ctx.exit(0 if report.ok else 1)  # an accuracy budget missed (the model is written, as validate writes its report)


def _print(report, result, config, model_path, out, data_spec, seed) -> None:
    from ..report.units import size

    worst = report.sections.get("layer_errors", {}).get("worst", [])[:3]
    calibration = f"{result.calibration_samples} samples, seed {seed}" if config.mode in CALIBRATED else "none"
    print_table(f"Converted {model_path.name} -> {out} ({config.mode}, {result.options.boundary_dtype} I/O)", [
        ("size", f"{size(len(result.tflite))}"),
        ("ops", ", ".join(f"{k} ×{v}" for k, v in result.info.op_counts().items())),
        ("calibration", calibration + _method(result.calibration)),
        *_auto_rows(result.calibration),
        *_recovery_rows(report.sections.get("recovery")),
        *[(f"layer error #{k + 1}", f"{w['layer']} ({w['op']}): {w['rmse_lsb']:.2f} LSB RMSE")
          for k, w in enumerate(worst)],
        ("checks", report.checks_summary()),
    ], f"edgeconv validate {out} --reference {model_path} --data {data_spec} (accuracy, latency, arena)")


def _method(calibration: dict | None) -> str:
    if not calibration:
        return ""
    return f", {calibration['method']}" + (" (auto)" if calibration["requested"] == "auto" else "")


def _auto_rows(calibration: dict | None) -> list[tuple[str, str]]:
    if not calibration or "candidates" not in calibration:
        return []
    return [("auto", f"held-back {calibration['held_out_samples']}: " + ", ".join(
        f"{c['method']} {c['agreement']:.0%}" for c in calibration["candidates"]) + " agree with float")]


def _recovery_rows(recovery: dict | None) -> list[tuple[str, str]]:
    if not recovery:
        return []
    if not recovery["needed"]:
        return [("recovery", f"not needed: int8 drop {recovery['int8_accuracy_drop']:.2f} points")]
    rows = [("recovery", f"int8 drop {recovery['int8_accuracy_drop']:.2f} -> {recovery['accuracy_drop']:.2f} points, "
                         f"int16 activations in {', '.join(recovery['moved'])}")]
    for step in recovery["steps"][1:]:  # every op 16-bit, then each group back to int8
        cost = step["cost"]
        rows.append((f"  {len(step['moved'])} layers 16-bit", f"drop {step['accuracy_drop']:.2f}; size {cost['size_bytes']:+,} B, "
                     f"latency {cost['latency_p50_ms'] * 1000:+.1f} us, arena {cost['arena_estimate_bytes']:+,} B"))
    return rows


class _calibration_bar:
    """A progress bar on stderr fed by the converter's representative-data generator; it
    appears with the first calibration sample, so early errors print alone."""

    def __init__(self, hidden: bool, total: int):
        self._hidden, self._total, self._bar = hidden, total, None

    def update(self, n: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=self._total, label="calibrating",
                                          file=click.get_text_stream("stderr"))
            self._bar.__enter__()
        self._bar.update(n)

    def __enter__(self):
        return None if self._hidden else self.update

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
