"""Recipes as data: schema errors name key, line and suggestion, before TensorFlow loads."""
import pytest

from converter.errors import InputError
from converter.pipeline.recipe import RecipeError, bundled_names, load_recipe, to_yaml
from converter.pipeline.steps.validate import ValidateConfig


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return str(path)


def test_bundled_recipes_load():
    assert {"demo", "mcu-int8", "mobile-int8"} <= set(bundled_names())
    for name in bundled_names():
        recipe = load_recipe(name)
        assert recipe.name == name and recipe.stage("convert") is not None


def test_typo_names_key_line_and_suggestion(tmp_path):
    path = write(tmp_path, "model: demo\nstages:\n  - convert:\n      mode: int8\n      sampels: 10\n")
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    assert e.value.message == f"unknown key 'sampels' in stages.0.convert ({path}, line 5); did you mean 'samples'?"
    assert e.value.hint == "valid keys: mode, io, per_channel, samples, calibration, percentile, max_accuracy_drop, recover, target, layer_errors, baseline"


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
    ("stages: convert\n", "stages must be a list, not 'convert'"),
    ("stages: [convert]\n", "one-key mapping"),
    ("- just\n- a list\n", "must hold a mapping"),
    ("stages: [convert: {mode: int4}]\n", "stages.convert.mode must be one of int8, int16x8"),
])
def test_cross_field_checks(tmp_path, text, message):
    with pytest.raises(InputError, match=message) as e:
        load_recipe(write(tmp_path, text))
    assert type(e.value) is RecipeError  # budgets check their own values; the loader adds the line


def test_invalid_yaml_is_a_clear_error(tmp_path):
    with pytest.raises(RecipeError, match="is not valid YAML"):
        load_recipe(write(tmp_path, "stages: [convert: {\n"))


def test_unsafe_yaml_tags_are_refused(tmp_path):
    with pytest.raises(RecipeError, match="unsupported YAML tag tag:yaml.org,2002:python/object/apply:os.system"):
        load_recipe(write(tmp_path, "model: !!python/object/apply:os.system ['echo pwned']\nstages: [convert: {}]\n"))


def test_overrides_and_round_trip(tmp_path):
    recipe = load_recipe("mcu-int8", ["seed=7", "stages.convert.samples=50", "budgets.max_arena_kb=8",
                                      "model=my.keras"])
    assert recipe.seed == 7 and recipe.stage("convert").samples == 50
    assert recipe.budgets.max_arena_kb == 8 and recipe.model == "my.keras"
    assert recipe.stage("package").firmware.alignment == 16
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
    assert isinstance(load_recipe("demo").stage("validate"), ValidateConfig)


@pytest.mark.parametrize("text, message", [
    ("stages: [qat: {preserve_sparsity: true}, convert: {}]\n", "needs a prune stage before the qat stage"),
    ("stages: [convert: {}, prune: {}]\n", "must come before convert"),
    ("stages: [prune: {structure: '4:2'}, convert: {}]\n", "is not M:N"),
    ("stages: [prune: {}, distill: {}, convert: {}]\n", "distill must come before prune and qat"),
])
def test_optimization_stage_checks(tmp_path, text, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write(tmp_path, text))


@pytest.mark.parametrize("text, message", [
    ("stages:\n  - convert: {samples: lots}\n", r"stages.convert.samples must be a whole number, not 'lots' \(.*, line 2\)"),
    ("stages: [convert: {}, validate: {workers: 0}]\n", r"stages.validate.workers must be between 1 and 64, not 0"),
    ("stages: [convert: {}, package: {firmware: {alignment: 7}}]\n",
     r"stages.package.firmware.alignment must be a power of two, not 7"),
    ("seed: 1\nstages: [convert: {}]\nseed: 2\n", r"duplicate key 'seed' at lines 1 and 3"),
    ("stages: [convert: {}]\npreprocess: {resize: [4]}\n", r"preprocess.resize must be a list of 2 whole numbers or null"),
    ("stages: 3\n", r"stages must be a list"),
    # the examples of issue 15: each fails at load, naming the key, its line and the valid values
    ("stages:\n  - convert: {io: int3}\n", r"stages.convert.io must be one of int8, uint8, float32, not 'int3' \(.*line 2\)"),
    ("stages:\n  - convert: {samples: -5}\n", r"stages.convert.samples must be at least 1, not -5 \(.*line 2\)"),
    ("stages:\n  - prune: {block: '4y1'}\n  - convert: {}\n",
     r"stages.prune.block '4y1' is not RxC with positive R and C, e.g. 4x1 \(.*line 2\)"),
    ("stages:\n  - prune: {structure: '4:2'}\n  - convert: {}\n", r"stages.prune.structure '4:2' is not M:N with 0 < M < N"),
    ("stages:\n  - prune: {layers: {'conv[': 0.5}}\n  - convert: {}\n", r"layer pattern 'conv\[' is not a valid regular expression.*line 2"),
    ("stages:\n  - convert: {}\n  - validate: {kernels: gpu}\n", r"stages.validate.kernels must be one of xnnpack, reference"),
    ("stages:\n  - convert: {}\n  - validate: {target: tpu}\n", r"unknown target 'tpu' \(.*line 3\)"),
    ("stages:\n  - convert: {io: uint8, mode: int16x8}\n", r"uint8 inputs and outputs need mode int8 .*line 2"),
])
def test_values_are_type_and_range_checked(tmp_path, text, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(write(tmp_path, text))


@pytest.mark.parametrize("item, message", [
    ("seed=abc", r"^seed must be a whole number, not 'abc' \(--set seed=abc\)"),
    ("stages.5.convert.samples=3", r"^--set stages.5.convert.samples: stage settings are named by stage"),
    ("model.x.y=3", r"^--set model.x.y: model is 'demo', not a mapping"),
])
def test_set_values_are_checked(item, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("mcu-int8", [item])


def test_relative_paths_resolve_against_the_recipe_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "r.yaml"
    path.write_text("model: m.keras\ndata: calib.npz\nstages: [distill: {student: s.keras}, convert: {}]\n")
    recipe = load_recipe(str(path), ["validation_data=val.npz"])
    assert (recipe.model, recipe.data) == (str(tmp_path / "sub" / "m.keras"), str(tmp_path / "sub" / "calib.npz"))
    assert recipe.stages[0].student == str(tmp_path / "sub" / "s.keras")
    assert recipe.validation_data == "val.npz"  # --set values keep the current folder
    assert load_recipe("mcu-int8").data == "demo"


def test_values_are_normalised_when_the_config_is_built(tmp_path):
    recipe = load_recipe(write(tmp_path, "stages:\n  - prune: {block: 4x1, structure: '2:4', layers: {'conv.*': 0}}\n"
                                         "  - convert: {}\n"))
    prune = recipe.stage("prune")
    assert (prune.block, prune.structure, prune.layers) == ((4, 1), (2, 4), {"conv.*": 0.0})
    again = load_recipe(write(tmp_path, to_yaml(recipe)))  # the resolved recipe a run writes loads back the same
    assert again.stage("prune") == prune
