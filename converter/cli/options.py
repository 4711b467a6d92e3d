"""Option decorators and helpers shared by the commands."""
from __future__ import annotations

import contextlib
import json
import sys

import click

from ..logs import native_logs_to_file
from .output import console, print_card, print_next, print_table  # noqa: F401 - the commands' one import

force_option = click.option("--force", is_flag=True, help="Overwrite existing outputs.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling and training.")
data_option = click.option("--data", "data_spec", required=True, metavar="DATA",
                           help="Samples: an .npz (x, optional y), an .npy, or 'demo'.")
trust_option = click.option("--trust-model", is_flag=True,
                            help="Allow Lambda layers / custom code in the model file to run when it loads.")
import_option = click.option("--import", "code", multiple=True, metavar="MODULE|FILE.py",
                             help="Import your Python code before loading the model, so Keras finds your custom "
                                  "layers (repeatable). Implies --trust-model: the code runs, and so may the model's.")


def stacked(*options):
    """Several option decorators as one, applied in the order given (as if written top-down)."""
    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


# what every command that loads a model file takes after its own options
model_command_options = stacked(seed_option, force_option, trust_option, import_option, json_option)


@contextlib.contextmanager
def quiet(ctx: click.Context):
    """While a command works: native TensorFlow logs go to the log file unless --verbose,
    whatever Python prints (Keras progress bars) goes to stderr: stdout is for the result, and
    long work shows progress bars there when it is a terminal (not with --json)."""
    from .output import progress_bars

    with contextlib.ExitStack() as stack:
        if not ctx.find_root().obj.get("verbose"):
            stack.enter_context(native_logs_to_file())
        stack.enter_context(contextlib.redirect_stdout(sys.stderr))  # the terminal, after the line above
        stack.enter_context(progress_bars(not ctx.params.get("as_json")))
        yield


def say(ctx: click.Context, message: str) -> None:
    """Progress for humans on stderr, so stdout stays clean for --json."""
    click.echo(message, err=True)


def echo_warnings(report) -> None:
    for w in report.warnings:
        click.echo(f"Warning: {w}", err=True)


def emit_json(document: dict) -> None:
    click.echo(json.dumps(document, indent=2))


def _floats(ctx, param, value):
    if value is None:
        return None
    try:
        return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of numbers") from None


def _size(ctx, param, value):
    if value is None:
        return None
    try:
        h, w = (int(v) for v in value.lower().split("x"))
        assert h > 0 and w > 0
        return h, w
    except (ValueError, AssertionError):
        raise click.BadParameter(f"'{value}' is not HEIGHTxWIDTH, e.g. 224x224") from None


def _fraction(ctx, param, value):
    if value is None:
        return None
    try:
        num, _, den = value.partition("/")
        return float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        raise click.BadParameter(f"'{value}' is not a number or a fraction like 1/255") from None


_PREPROCESS_OPTIONS = [
    click.option("--resize", callback=_size, metavar="HxW", help="Image size (default: the model's input size)."),
    click.option("--scale", callback=_fraction, metavar="S", help="Input = raw * S + offset (e.g. 1/255)."),
    click.option("--offset", type=float, default=None, help="Added after --scale."),
    click.option("--mean", callback=_floats, metavar="M[,M..]", help="Input = (raw - mean) / std, per channel."),
    click.option("--std", callback=_floats, metavar="S[,S..]", help="See --mean."),
    click.option("--bgr", is_flag=True, default=None, help="Feed image channels in BGR order."),
    click.option("--grayscale", is_flag=True, default=None, help="Convert images to one channel."),
    click.option("--label-column", default=None, help="CSV column that holds the labels."),
]


def preprocess_options(f):
    """Options that describe how raw data becomes model input (stored with converted models)."""
    for option in reversed(_PREPROCESS_OPTIONS):
        f = option(f)
    return f


def preprocess_from(kwargs: dict, data_spec: str, stored: dict | None = None):
    """Build the spec from CLI options, on top of a spec stored in a model (options win).
    Options that would do nothing with `data_spec` are a usage error. Pops the options from
    `kwargs`; returns (Preprocess, label_column)."""
    from ..inputs.data import unused_option
    from ..inputs.preprocess import Preprocess

    given = {k: kwargs.pop(k, None) for k in ("resize", "scale", "offset", "mean", "std", "grayscale", "bgr",
                                                "label_column")}
    problem = unused_option(data_spec, given)
    if problem:
        raise click.UsageError(problem)
    label_column = given.pop("label_column")
    given["channel_order"] = "bgr" if given.pop("bgr") else None
    base = Preprocess.from_json(json.dumps(stored)) if stored else Preprocess()
    spec = Preprocess(**{**base.__dict__, **{k: v for k, v in given.items() if v is not None}})
    return spec, label_column


_BUDGET_OPTIONS = [
    click.option("--max-accuracy-drop", type=click.FloatRange(0), help="Budget: accuracy drop in percentage points."),
    click.option("--min-agreement", type=click.FloatRange(0, 100), help="Budget: top-1 agreement in percent."),
    click.option("--max-latency-ms", type=click.FloatRange(0), help="Budget: host p50 latency in ms."),
    click.option("--max-arena-kb", type=click.FloatRange(0), help="Budget: tensor-arena estimate in KB."),
    click.option("--max-size-kb", type=click.FloatRange(0), help="Budget: model file size in KB."),
]


def budget_options(f):
    """Budgets for build pipelines: each is a ✓/✗ check; any failed budget exits 1."""
    for option in reversed(_BUDGET_OPTIONS):
        f = option(f)
    return f


def budgets_from(kwargs: dict):
    from ..report.budgets import Budgets

    return Budgets(**{k: kwargs.pop(k) for k in ("max_accuracy_drop", "min_agreement", "max_latency_ms",
                                                 "max_arena_kb", "max_size_kb")})
