"""`edgeconv tune`: search a recipe's `search:` settings for the best model that fits the device."""
from pathlib import Path

import click

from .options import console, emit_json, force_option, import_option, json_option, print_next, quiet, say, trust_option


@click.command()
@click.argument("recipe")
@click.option("--target", help="Where each trial is validated and timed: host, arm64, micro, ssh://user@host "
                                "[the recipe's validate target, else host].")
@click.option("--trials", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="Trials the study holds when done (a resumed study runs only the missing ones).")
@click.option("--max-latency-ms", type=click.FloatRange(min=0), help="Budget: p50 latency on the target.")
@click.option("--max-arena-kb", type=click.FloatRange(min=0), help="Budget: total tensor arena.")
@click.option("--max-size-kb", type=click.FloatRange(min=0), help="Budget: the .tflite file (flash).")
@click.option("--max-accuracy-drop", type=click.FloatRange(0, 100), help="Budget: points lost against the model as given.")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Study folder (default: out/tune/<recipe name>); "
                                                                   "an existing study there is resumed.")
@click.option("--storage", metavar="URL", help="postgresql://USER:PASSWORD@HOST:PORT/DB: the study in PostgreSQL "
                                               "(heartbeats retry a dead process's trial) [a file beside the outputs].")
@click.option("--study", "study_name", help="Study name in the storage [the recipe's name].")
@click.option("--cluster", metavar="tcp://HOST:8786", help="Run trials as tasks on this Dask scheduler's workers, one "
                                                           "per worker process.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value, as in `run`.")
@force_option
@trust_option
@import_option
@json_option
@click.pass_context
def tune(ctx, recipe, target, trials, max_latency_ms, max_arena_kb, max_size_kb, max_accuracy_drop, out, storage,
         study_name, cluster, overrides, force, trust_model, code, as_json):
    """Search RECIPE's `search:` section for the most accurate model within the budgets.

    Each trial is the recipe with sampled settings, run into OUT/trials/NNNN; a trial whose
    untrained structure already misses the flash or arena budget stops before training. The
    study (OUT/study.log) resumes after Ctrl-C or a crash without repeating a finished trial.
    Writes the Pareto front in OUT/report.html and the chosen trial as OUT/best.yaml, a plain
    recipe for `edgeconv run`. Exit 0 when a trial fits every budget, 1 when none does.

    \b
    Example:
      edgeconv tune recipes/tune-demo.yaml --trials 20 --max-arena-kb 24 --max-latency-ms 1
      edgeconv tune kws.yaml --trials 30 --storage postgresql://tune@db/tune --cluster tcp://sched:8786
    """
    from ..report.budgets import Budgets
    from ..tune.session import Session

    budgets = {"max_latency_ms": max_latency_ms, "max_arena_kb": max_arena_kb, "max_size_kb": max_size_kb,
               "max_accuracy_drop": max_accuracy_drop}
    session = Session.prepare(recipe, list(overrides), target, {k: v for k, v in budgets.items() if v is not None},
                              out, storage, study_name, cluster, force, trust_model, code)
    progress = (lambda message: None) if as_json else (lambda message: say(ctx, message))
    try:
        with quiet(ctx):
            result = session.run(trials, progress)
    except KeyboardInterrupt:
        session.close()
        click.echo(f"Interrupted: the study in {session.out} keeps its finished trials; run the same command to "
                   "resume it.", err=True)
        raise click.exceptions.Exit(130) from None
    session.close()
    if as_json:
        emit_json(session.summary(result))
    else:
        _print(session, result)
    ctx.exit(0 if result.best else 1)


def _print(session, result) -> None:
    from rich.table import Table

    from ..report.units import duration, size
    from ..tune.outcome import RULE, settings_text

    click.echo(f"Tuned {session.recipe.name}: {result.done} trials ({session.ran_on}) -> {session.out}")
    table = Table(title="Pareto front of the trials that fit the budgets" if result.front else None)
    for column in ("trial", "accuracy", "latency", "arena", "flash", "settings"):
        table.add_column(column)
    for row in result.front:
        f = row["figures"]
        table.add_row(str(row["trial"]), f"{f['accuracy']:.2f}%", duration(f["latency_ms"]),
                      size(f["arena_kb"] * 1024), size(f["flash_kb"] * 1024), settings_text(row["settings"]))
    if result.front:
        console().print(table)
        click.echo(f"Chosen: trial {result.best['trial']} ({RULE}) -> {session.out / 'best.yaml'}")
        print_next(f"edgeconv run {session.out / 'best.yaml'}; open {session.out / 'report.html'}")
    else:
        click.echo(f"✗ no trial fits every budget (budgets: {session.budgets_text})")
        print_next(f"open {session.out / 'report.html'} for how far each trial is from them")
