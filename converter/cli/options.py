"""Option decorators and helpers shared by the commands."""
from __future__ import annotations

import contextlib
import json

import click

from ..logs import native_logs_to_file

force_option = click.option("--force", is_flag=True, help="Overwrite existing outputs.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout and nothing else.")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling and training.")
data_option = click.option("--data", "data_spec", required=True, metavar="DATA",
                           help="Samples: an .npz (x, optional y), an .npy, or 'demo'.")
trust_option = click.option("--trust-model", is_flag=True,
                            help="Allow Lambda layers / custom code in the model file to run when it loads.")


def quiet(ctx: click.Context):
    """Send native TensorFlow logs to the log file unless --verbose."""
    if ctx.find_root().obj.get("verbose"):
        return contextlib.nullcontext()
    return native_logs_to_file()


def say(ctx: click.Context, message: str) -> None:
    """Progress for humans on stderr, so stdout stays clean for --json."""
    click.echo(message, err=True)


def emit_json(document: dict) -> None:
    click.echo(json.dumps(document, indent=2))


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, v)
    Console(soft_wrap=True).print(table)
