"""The `edgeconv` group and its one error boundary."""
from __future__ import annotations

import importlib
import signal
import sys
import traceback

import click

from .. import __version__
from ..errors import EXIT_INTERNAL, ConverterError
from ..interrupts import Terminated, interruption, private_tempdir, signals_as_interrupts
from ..logs import log_path
from .options import emit_json
from .supervise import run_in_child, supervised

# command name -> "module:function"; modules are imported only when their command runs
COMMANDS = {
    "demo": "converter.cli.demo:demo",
    "convert": "converter.cli.convert:convert",
    "validate": "converter.cli.validate:validate",
    "inspect": "converter.cli.inspect:inspect",
    "bench": "converter.cli.bench:bench",
    "run": "converter.cli.run:run",
    "prune": "converter.cli.optimize:prune",
    "qat": "converter.cli.optimize:qat",
    "distill": "converter.cli.optimize:distill",
    "explain": "converter.cli.explain:explain",
    "edgetpu": "converter.cli.edgetpu:edgetpu",
    "targets": "converter.cli.targets:targets",
    "ethosu": "converter.cli.ethosu:ethosu",
    "package": "converter.cli.package:package",
    "recipes": "converter.cli.run:recipes",
    "tune": "converter.cli.tune:tune",
}


class EdgeconvGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            ctx = super().make_context(info_name, list(args), parent, **extra)
        except KeyboardInterrupt:  # Ctrl-C while the command's module loads: click would say "Aborted!", exit 1
            click.echo("Interrupted: no output was written.", err=True)
            raise click.exceptions.Exit(128 + signal.SIGINT) from None
        # Known before the command parses its options, so even a usage error answers in JSON.
        ctx.meta[JSON_MODE] = "--json" in args[:args.index("--")] if "--" in args else "--json" in args
        return ctx

    def parse_args(self, ctx, args):
        ctx.meta["edgeconv.args"] = list(args)
        rest = super().parse_args(ctx, args)  # the tail after the command's name
        ctx.meta["edgeconv.command"] = args[-len(rest) - 1] if len(args) > len(rest) else None
        return rest

    def invoke(self, ctx):
        command = ctx.meta.get("edgeconv.command")
        if supervised(command):  # training can crash natively: a child process does it
            try:
                ctx.exit(run_in_child(command, ctx.meta["edgeconv.args"]))
            except ConverterError as e:
                ctx.exit(failure(ctx, e))
        try:
            with signals_as_interrupts(), private_tempdir():
                return self._invoke_command(ctx)
        except KeyboardInterrupt as e:  # landed while the handlers or the temporary folder were set up
            ctx.exit(failure(ctx, e))

    def _invoke_command(self, ctx):
        try:
            return super().invoke(ctx)
        except click.ClickException as e:  # usage errors: click prints them; --json also gets the document
            if ctx.meta.get(JSON_MODE):
                emit_json({"error": {"message": e.format_message(), "hint": "see --help", "exit_code": e.exit_code}})
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except (KeyboardInterrupt, Exception) as e:
            ctx.exit(failure(ctx, e))


JSON_MODE = "edgeconv.json"


def failure(ctx, e: BaseException) -> int:
    """The error boundary: a message (and with --json the JSON document) for each kind of failure."""
    if isinstance(e, KeyboardInterrupt) or interruption() is not None:
        # Ctrl-C or SIGTERM, even where native code turned its exception into another one
        code = 128 + (interruption() or (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT))
        report_error(ctx, "Interrupted: no output was written.", None, code, prefix="")
        return code
    if isinstance(e, ConverterError):
        report_error(ctx, e.message, e.hint, e.exit_code)
        return e.exit_code
    if ctx.obj and ctx.obj.get("verbose"):  # a bug: one line for users, the traceback for --verbose
        traceback.print_exc()
    report_error(ctx, f"unexpected {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                 f"This is a bug in edgeconv. Native log: {log_path()}; run with --verbose for the traceback.",
                 EXIT_INTERNAL, hint_prefix="")
    return EXIT_INTERNAL


def report_error(ctx, message: str, hint: str | None, exit_code: int, prefix="Error: ", hint_prefix="Hint: ") -> None:
    """On stderr for people; with --json also as the one JSON document on stdout."""
    click.echo(f"{prefix}{message}", err=True)
    if hint:
        click.echo(f"{hint_prefix}{hint}", err=True)
    if ctx.meta.get(JSON_MODE):
        emit_json({"error": {"message": message, "hint": hint, "exit_code": exit_code}})


@click.group(cls=EdgeconvGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgeconv")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's logs and tracebacks.")
@click.pass_context
def cli(ctx, verbose):
    """Turn Keras models into fully-integer TFLite models for edge devices, and prove them.

    \b
    Exit codes: 0 ok, 1 a budget or check failed, 2 usage error,
                3 the input could not be processed, 4 internal error (a bug).

    \b
    Example:
      edgeconv demo
      edgeconv convert model.keras --data calib.npz -o model_int8.tflite
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def main():
    sys.exit(cli.main(prog_name="edgeconv", standalone_mode=True))
