"""Each step's settings are defined once: the CLI command's options and the recipe's keys are
both built from the step's config, and map onto each other exactly."""
from dataclasses import fields

import pytest

from converter.cli.main import cli
from converter.inputs.preprocess import Preprocess
from converter.pipeline.recipe import Recipe
from converter.pipeline.steps import CONFIGS
from converter.pipeline.steps.package import FirmwareConfig
from converter.report.budgets import Budgets
from converter.settings import SettingError

# what a command takes besides settings: its inputs, outputs and how it reports
INVOCATION = {"model_path", "data_spec", "out", "force", "as_json", "trust_model", "code", "progress", "candidate",
              "reference", "teacher_path", "validation_data", "fmt"}
# options that set recipe-level keys (not a step's): seed, preprocess, budgets
RECIPE_LEVEL = ({"seed"} | {f.name for f in fields(Budgets)}
                | {"resize", "scale", "offset", "mean", "std", "grayscale", "bgr", "label_column"})
COMMANDS = {"convert": "convert", "validate": "validate", "explain": "explain", "prune": "prune", "qat": "qat",
            "distill": "distill", "edgetpu": "edgetpu", "ethosu": "ethosu", "package": "package"}


def _options(command: str) -> set[str]:
    return {p.name for p in cli.get_command(None, command).params}


def _keys(config_class) -> set[str]:
    if config_class is CONFIGS["package"]:  # --format c-array|mobile chooses the firmware / mobile keys
        return ({f.name for f in fields(config_class)} - {"firmware", "mobile"}) | {f.name for f in fields(FirmwareConfig)}
    return {f.name for f in fields(config_class)}


@pytest.mark.parametrize("step", sorted(COMMANDS))
def test_every_option_of_a_step_is_a_recipe_key_and_back(step):
    options = _options(COMMANDS[step]) - INVOCATION
    keys = _keys(CONFIGS[step])
    assert keys <= options, f"recipe keys without a CLI option: {keys - options}"
    assert options - keys <= RECIPE_LEVEL, f"CLI options that no recipe can set: {options - keys - RECIPE_LEVEL}"


def test_recipe_level_options_are_recipe_keys():
    recipe_keys = {f.name for f in fields(Recipe)} | {f.name for f in fields(Budgets)} | {f.name for f in fields(Preprocess)}
    assert RECIPE_LEVEL - {"bgr", "label_column"} <= recipe_keys  # bgr is preprocess.channel_order
    assert "channel_order" in recipe_keys


def test_cli_flags_show_the_configs_defaults():
    sparsity = next(p for p in cli.get_command(None, "prune").params if p.name == "sparsity")
    assert "[default: 0.75]" in sparsity.help


def test_configs_check_their_values_in_the_python_api_too():
    with pytest.raises(SettingError, match=r"^prune.block '4y1' is not RxC"):
        CONFIGS["prune"](block="4y1")
    with pytest.raises(SettingError, match=r"^validate.workers must be between 1 and 64, not 0"):
        CONFIGS["validate"](workers=0)
    assert CONFIGS["prune"](block="4x1").block == (4, 1)


def test_no_early_stop_trains_every_epoch_on_all_the_data():
    from converter.pipeline.context import Context
    from converter.pipeline.steps.prune import PruneConfig
    from converter.pipeline.steps.training import train_options
    from converter.report import Report

    context = Context(Report("t"), seed=3)
    stopping, every = train_options(PruneConfig(), context), train_options(PruneConfig(early_stop=False), context)
    assert (stopping.patience, stopping.validation_split) == (3, 0.1)
    assert (every.patience, every.validation_split, every.seed) == (0, 0.0, 3)
