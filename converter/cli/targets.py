"""`edgeconv targets`: which targets can run here, and how to make the others available."""
import click

from .options import console, emit_json, json_option


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def targets(ctx, as_json):
    """List the targets with their availability and the command that makes each available.

    \b
    Example:
      edgeconv targets
      edgeconv targets setup arm64
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.markup import escape
    from rich.table import Table

    from ..targets.registry import listed

    found = listed()
    if as_json:
        emit_json({name: {"available": a.ok, "reason": a.reason, "install": a.install} for name, (_, a) in found.items()})
        return
    table = Table(title="targets")
    for col in ("target", "available", "what", "to make it available"):
        table.add_column(col)
    for name, (t, a) in found.items():
        table.add_row(name, "✓" if a.ok else escape(f"✗ {a.reason}"), t.description, escape(a.install or "–"))
    console().print(table)


@targets.command()
@click.argument("name", type=click.Choice(["arm64"]))
def setup(name):
    """Prepare a target on this machine (idempotent; seconds once cached).

    \b
    Example:
      edgeconv targets setup arm64
    """
    import time

    from ..targets.arm64_emu import setup as setup_arm64

    start = time.perf_counter()
    folder = setup_arm64(progress=lambda m: click.echo(m, err=True))
    click.echo(f"arm64 userland ready in {folder} ({time.perf_counter() - start:.1f} s)")
