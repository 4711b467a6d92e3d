"""`edgeconv run` and `edgeconv recipes`: declarative conversions for build pipelines."""
from pathlib import Path

import click

from .options import (console, echo_warnings, emit_json, force_option, import_option, json_option, print_card, quiet,
                      say, trust_option)


@click.command()
@click.argument("recipe")
@click.option("--model", "model_path", type=click.Path(path_type=Path), help="Override the recipe's model.")
@click.option("--data", "data_spec", help="Override the recipe's data.")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Output folder (default: out/<recipe name>).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe value, e.g. --set seed=3 --set stages.convert.samples=100.")
@force_option
@trust_option
@import_option
@json_option
@click.pass_context
def run(ctx, recipe, model_path, data_spec, out, overrides, force, trust_model, code, as_json):
    """Run RECIPE (a bundled name or a .yaml path); budgets decide the exit code.

    Writes every artifact, the resolved recipe, report.json/.md/.html and manifest.json
    (sha256 of each file) into the output folder.

    \b
    Example:
      edgeconv run mcu-int8 --model model.keras --data calib.npz -o build/mcu
      edgeconv run recipes/my-recipe.yaml --set budgets.max_arena_kb=48 --force
    """
    from ..output_safety import check_output
    from ..pipeline.runner import recipe_inputs, run_recipe
    from ..pipeline.recipe import load_recipe
    from ..pipeline.steps import name_of

    sets = list(overrides) + ([f"model={model_path}"] if model_path else []) + ([f"data={data_spec}"] if data_spec else [])
    loaded = load_recipe(recipe, sets)
    out = out or Path("out") / loaded.name
    check_output(out, force, {"recipe": recipe, **recipe_inputs(loaded)}, folder=True)
    with quiet(ctx):
        report = run_recipe(loaded, out, force, progress=lambda m: None if as_json else say(ctx, m),
                            trust_model=trust_model, code=code)
    echo_warnings(report)
    if as_json:
        emit_json(report.to_dict())
    else:
        from ..report.summary import summary_card

        card = summary_card(report)
        steps = ", ".join(name_of(s) for s in loaded.stages)
        print_card(f"Ran recipe {loaded.name} ({steps}) -> {out}", card,
                   next_step=f"open {out / 'report.html'}" + ("" if report.ok else "; the failed checks above"))
    ctx.exit(0 if report.ok else 1)


@click.group()
def recipes():
    """List and show the bundled recipes.

    \b
    Example:
      edgeconv recipes list
      edgeconv recipes show mcu-int8
    """


@recipes.command("list")
@json_option
def list_recipes(as_json):
    """Bundled recipes with their descriptions.

    \b
    Example:
      edgeconv recipes list --json
    """
    from ..pipeline.recipe import bundled_names, load_recipe

    items = {name: load_recipe(name).description for name in bundled_names()}
    if as_json:
        emit_json(items)
        return
    for name, description in items.items():
        console().print(f"[bold]{name}[/bold]  {description}", highlight=False)


@recipes.command("show")
@click.argument("name")
def show_recipe(name):
    """Print a recipe's YAML as written: a bundled recipe by name, or a .yaml recipe file
    (checked as a recipe first, so nothing else is printed).

    \b
    Example:
      edgeconv recipes show demo
    """
    from ..pipeline.recipe import load_recipe, resolve

    load_recipe(name)
    click.echo(resolve(name).read_text(), nl=False)
