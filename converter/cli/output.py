"""What a command prints for a person: what was done (the table's title), the key figures,
the checks, and what to look at next; progress bars with an ETA while long work runs.
Results go to stdout, progress to stderr; with --json or on a pipe there are no bars."""
from __future__ import annotations

import contextlib
import sys

import click


def console():
    """A rich console that does not squeeze tables to 80 columns when output is piped."""
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=160)


def print_table(title: str, rows: list[tuple[str, str]], next_step: str | None = None) -> None:
    from rich.table import Table

    click.echo(title)  # its own line: a table title would wrap to the table's width (long paths)
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, v)
    console().print(table)
    print_next(next_step)


def print_card(title: str, card, rows: list[tuple[str, str]] = (), next_step: str | None = None) -> None:
    """The summary card (report/summary.py) as a table with a column per model, then any rows
    that belong to one model only (e.g. per-output errors), the checks and the next step."""
    from rich.table import Table

    header, body = card.table()
    click.echo(title)  # its own line, as in print_table
    table = Table(*header)
    for row in body:
        table.add_row(*row)
    for k, v in rows:
        table.add_row(k, *([""] * (len(header) - 2)), v)
    console().print(table)
    for check in card.checks:
        click.echo(check.line())
    if card.verdict and len(card.checks) > 1:
        click.echo(card.verdict)
    print_next(next_step)


def print_next(next_step: str | None) -> None:
    if next_step:
        click.echo(f"Next: {next_step}")


@contextlib.contextmanager
def progress_bars(enabled: bool):
    """Bars for converter.progress tasks on the terminal stderr is now (call it where native
    logs are already redirected, so the bars reach the screen, not the log file)."""
    from .. import progress

    stream = sys.stderr
    if not enabled or not _is_terminal(stream):
        yield
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=Console(file=stream), transient=True)

    @contextlib.contextmanager
    def show(description: str, total: int):
        task = bars.add_task(description, total=total)
        try:
            yield lambda n=1: bars.advance(task, n)
        finally:
            bars.remove_task(task)

    with bars, progress.shown_by(show):
        yield


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
