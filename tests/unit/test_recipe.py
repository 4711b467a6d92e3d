"""Recipes as data: schema errors name key, line and suggestion, before TensorFlow loads."""
import pytest

from converter.errors import InputError
from converter.recipe import ConvertStage, PackageStage, RecipeError, ValidateStage, bundled_names, load_recipe, to_yaml


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return str(path)


def test_bundled_recipes_load():
    assert {"demo", "mcu-int8", "mobile-int8"} <= set(bundled_names())
    for name in bundled_names():
        recipe = load_recipe(name)
        assert recipe.name == name and recipe.stage(ConvertStage) is not None


def test_typo_names_key_line_and_suggestion(tmp_path):
    path = write(tmp_path, "model: demo\nstages:\n  - convert:\n      mode: int8\n      sampels: 10\n")
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    assert e.value.message == f"unknown key 'sampels' in stages.0.convert ({path}, line 5); did you mean 'samples'?"
    assert e.value.hint == "valid keys: mode, io, per_channel, samples, layer_errors"


def test_unknown_top_level_key_and_stage(tmp_path):
    with pytest.raises(RecipeError, match=r"unknown key 'budget' in recipe \(.*line 2\); did you mean 'budgets'"):
        load_recipe(write(tmp_path, "stages: [convert: {}]\nbudget: {max_size_kb: 1}\n"))
    with pytest.raises(RecipeError, match=r"unknown stage 'valdate' .*did you mean 'validate'"):
        load_recipe(write(tmp_path, "stages:\n  - convert: {}\n  - valdate: {}\n"))


@pytest.mark.parametrize("text, message", [
    ("stages: [validate: {}]\n", "has no convert stage"),
    ("stages: [validate: {}, convert: {}]\n", "must come after convert"),
    ("stages: [convert: {}]\nbudgets: {max_accuracy_drop: 1}\n", "need a validate stage"),
    ("stages: [convert: {}]\nbudgets: {max_size_kb: -1}\n", "must be a non-negative number"),
    ("stages: [convert: {}]\nbudgets: {min_agreement: 150}\n", "is a percentage"),
    ("stages: convert\n", "one-key mapping"),
    ("- just\n- a list\n", "must hold a mapping"),
    ("stages: [convert: {mode: int4}]\n", None),  # checked where the mode is used (ConvertOptions)
])
def test_cross_field_checks(tmp_path, text, message):
    if message is None:
        assert load_recipe(write(tmp_path, text)).stage(ConvertStage).mode == "int4"
        return
    budget_value = "non-negative" in message or "percentage" in message  # Budgets checks its own values
    with pytest.raises(InputError, match=message) as e:
        load_recipe(write(tmp_path, text))
    assert type(e.value) is (InputError if budget_value else RecipeError)


def test_invalid_yaml_is_a_clear_error(tmp_path):
    with pytest.raises(RecipeError, match="is not valid YAML"):
        load_recipe(write(tmp_path, "stages: [convert: {\n"))


def test_unsafe_yaml_tags_are_refused(tmp_path):
    with pytest.raises(RecipeError, match="unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system"):
        load_recipe(write(tmp_path, "model: !!python/object/apply:os.system ['echo pwned']\nstages: [convert: {}]\n"))


def test_overrides_and_round_trip(tmp_path):
    recipe = load_recipe("mcu-int8", ["seed=7", "stages.convert.samples=50", "budgets.max_arena_kb=8",
                                      "model=my.keras"])
    assert recipe.seed == 7 and recipe.stage(ConvertStage).samples == 50
    assert recipe.budgets.max_arena_kb == 8 and recipe.model == "my.keras"
    assert recipe.stage(PackageStage).firmware.alignment == 16
    again = load_recipe(write(tmp_path, to_yaml(recipe)))
    assert again.stages == recipe.stages and again.budgets == recipe.budgets
    with pytest.raises(RecipeError, match="has no explain stage"):
        load_recipe("mcu-int8", ["stages.explain.samples=3"])
    with pytest.raises(RecipeError, match="is not key=value"):
        load_recipe("mcu-int8", ["seed"])


def test_missing_recipe():
    with pytest.raises(RecipeError, match="no bundled recipe named 'nope'"):
        load_recipe("nope")
    with pytest.raises(RecipeError, match="recipe file missing.yaml does not exist"):
        load_recipe("missing.yaml")
    assert isinstance(load_recipe("demo").stage(ValidateStage), ValidateStage)


@pytest.mark.parametrize("text, message", [
    ("stages: [qat: {preserve_sparsity: true}, convert: {}]\n", "needs a prune stage before the qat stage"),
    ("stages: [convert: {}, prune: {}]\n", "must come before convert"),
    ("stages: [prune: {structure: '4:2'}, convert: {}]\n", "is not M:N"),
    ("stages: [prune: {}, distill: {}, convert: {}]\n", "distill must come before prune and qat"),
])
def test_optimization_stage_checks(tmp_path, text, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write(tmp_path, text))
