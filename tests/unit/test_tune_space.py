"""A recipe's search section: parsed with the steps' own settings, every combination checked at
load time, sampled by Optuna into plain recipes; and which trials of a study count as done."""
import optuna
import pytest
from optuna.trial import TrialState

from converter.pipeline.recipe import load_recipe, to_yaml
from converter.tune.objectives import constraints, dominates, violations
from converter.report.budgets import Budgets
from converter.tune.outcome import outcome
from converter.tune.space import SearchError, apply
from converter.tune.study import requeue, tally

RECIPE = """model: demo
stages:
  - prune: {sparsity: 0.5, epochs: 2}
  - qat: {epochs: 1}
  - convert: {samples: 100}
  - validate: {}
search:
  prune:
    sparsity: [0.3, 0.8]
    variants: [{}, {structure: "2:4"}, {block: "4x1"}, {structured: true, channels: [0.2, 0.6]}]
  qat: {enabled: [true, false], epochs: [1, 4]}
  convert:
    samples: {low: 64, high: 512, log: true}
    variants: [{calibration: minmax}, {calibration: mse}, {mode: int16x8}]
"""


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return str(path)


def test_a_search_samples_plain_recipes_within_its_ranges(tmp_path):
    recipe = load_recipe(write(tmp_path, RECIPE))
    study = optuna.create_study(directions=["maximize"], sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        values = recipe.search.sample(trial)
        plain = apply(recipe, values)
        assert not plain.search and "search" not in to_yaml(plain)
        prune = plain.stage("prune")
        assert 0.3 <= prune.sparsity <= 0.8 and (prune.channels is None or 0.2 <= prune.channels <= 0.6)
        assert 64 <= plain.stage("convert").samples <= 512
        qat = plain.stage("qat")
        assert (qat is None) == (values["qat"] is None) and (qat is None or 1 <= qat.epochs <= 4)
        seen.add((prune.structured, prune.structure, prune.block, plain.stage("convert").mode, qat is None))
        study.tell(trial, 1.0)
    assert {s[:3] for s in seen} == {(False, None, None), (False, (2, 4), None), (False, None, (4, 1)),
                                     (True, None, None)}
    assert {s[3] for s in seen} == {"int8", "int16x8"} and {s[4] for s in seen} == {True, False}


def test_the_search_section_round_trips_and_run_ignores_it(tmp_path):
    recipe = load_recipe(write(tmp_path, RECIPE))
    again = load_recipe(write(tmp_path, to_yaml(recipe)))
    assert again.search.raw == recipe.search.raw and again.stages == recipe.stages
    assert again.search.parameters() == recipe.search.parameters()


@pytest.mark.parametrize("search, message", [
    ("{prun: {sparsity: [0.3, 0.8]}}", r"unknown step 'prun' in search \(.*line 7\); did you mean 'prune'\?"),
    ("{explain: {samples: [1, 4]}}", r"search.explain: the recipe has no explain step \(.*line 7\)"),
    ("{prune: {sparsty: [0.3, 0.8]}}", r"unknown setting 'sparsty' in search.prune \(.*line 7\); did you mean 'sparsity'"),
    ("{prune: {sparsity: [0.3, 1.5]}}", r"search.prune.sparsity must be above 0 and below 1, not 1.5 \(.*line 7\)"),
    ("{prune: {sparsity: [0.8, 0.3]}}", r"search.prune.sparsity: the range \[0.8, 0.3\] is empty"),
    ("{qat: {epochs: [1.5, 3]}}", r"search.qat.epochs is a whole number: its range needs whole ends"),
    ("{convert: {calibration: [minmax, kmeans]}}", r"search.convert.calibration must be one of minmax, .*not 'kmeans'"),
    ("{convert: {samples: [64]}}", r"search.convert.samples: a list of choices needs at least two"),
    ("{convert: {enabled: [true, false]}}", r"search.convert.enabled: only training steps can be dropped"),
    ("{prune: {enabled: [true, false]}, qat: {preserve_sparsity: true}}",
     r"search.prune.enabled: without prune the recipe does not build: qat.preserve_sparsity needs a prune stage"),
    ("{prune: {structured: [true, false], channels: [0.2, 0.5]}}",
     r"search.prune can make a step that does not build: prune.channels is a setting of structured pruning"),
    ("{convert: {variants: [{calibration: mse}]}}", r"search.convert.variants must be a list of at least two"),
    ("[prune]", r"search must map step names"),
])
def test_a_bad_search_fails_at_load_naming_its_line(tmp_path, search, message):
    text = RECIPE[:RECIPE.index("search:")] + f"search: {search}\n"
    with pytest.raises(SearchError, match=message):
        load_recipe(write(tmp_path, text))


def test_constraints_are_relative_overshoots_and_violations_read_as_text():
    budgets = Budgets(max_arena_kb=20, max_latency_ms=1.0)
    found = {"arena_kb": 25.0, "latency_ms": 0.5, "flash_kb": 40.0}
    assert constraints(found, budgets) == {"max_latency_ms": -0.5, "max_arena_kb": 0.25}
    assert violations(found, budgets) == ["arena 25 KB > 20 KB"]
    assert violations(found, budgets, ("flash_kb", "latency_ms")) == []
    a = {"accuracy": 95, "latency_ms": 1, "arena_kb": 10, "flash_kb": 40}
    assert dominates(a, {**a, "arena_kb": 11}) and not dominates(a, a) and not dominates(a, {**a, "accuracy": 96})


def _study(*trials):
    study = optuna.create_study(directions=["maximize", "minimize", "minimize", "minimize"])
    for state, attrs, constraint in trials:
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        if constraint is not None:
            trial.set_constraint("max_arena_kb", constraint)
        if state != TrialState.RUNNING:
            study.tell(trial, (attrs["figures"]["accuracy"], 1, 10, 40) if state == TrialState.COMPLETE else None,
                       state=state)
    return study


def _figures(accuracy, latency=1.0, arena=10.0):
    return {"figures": {"accuracy": accuracy, "latency_ms": latency, "arena_kb": arena, "flash_kb": 40.0},
            "state": "complete"}


def test_interrupted_and_abandoned_trials_are_queued_again_once_and_not_counted_done():
    study = _study((TrialState.COMPLETE, _figures(90), -0.1),
                   (TrialState.FAIL, {"state": "interrupted", "retry": True}, None),
                   (TrialState.FAIL, {"state": "failed", "reason": "QAT cannot wrap the model"}, None),
                   (TrialState.RUNNING, {}, None))
    assert len(tally(study).done) == 2  # the complete one and the one that failed on its own
    assert requeue(study, own_running=True) == [1, 3]
    assert requeue(study, own_running=True) == []  # queued once
    count = tally(study)
    assert len(count.done) == 2 and count.waiting == 2 and not count.running
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [t.user_attrs["retry_of"] for t in waiting] == [1, 3]
    assert waiting[0].system_attrs["fixed_params"] == study.trials[1].params


def test_the_chosen_trial_is_the_most_accurate_that_fits_ties_to_the_fastest():
    study = _study((TrialState.COMPLETE, _figures(95, latency=2.0), -0.1),
                   (TrialState.COMPLETE, _figures(95, latency=1.0), -0.2),
                   (TrialState.COMPLETE, _figures(97), 0.3),  # the most accurate misses the arena budget
                   (TrialState.COMPLETE, _figures(90, latency=0.5), -0.5),
                   (TrialState.PRUNED, {"state": "stopped", "figures": {"arena_kb": 30}}, 0.5))
    result = outcome(study)
    assert result.best["trial"] == 1
    assert [r["trial"] for r in result.front] == [1, 3]  # 0 is dominated by 1; 2 and 4 do not fit
    assert result.done == 5


def test_a_search_varies_the_distillation_students_width(tmp_path):
    recipe = load_recipe(write(tmp_path, """model: demo
stages:
  - distill: {student: tiny_cnn, epochs: 1}
  - convert: {samples: 16}
  - validate: {}
search:
  distill: {width: [0.25, 1.0]}
"""))
    study = optuna.create_study(directions=["maximize"], sampler=optuna.samplers.RandomSampler(seed=0))
    widths = []
    for _ in range(8):
        trial = study.ask()
        widths.append(apply(recipe, recipe.search.sample(trial)).stage("distill").width)
        study.tell(trial, 1.0)
    assert all(0.25 <= w <= 1.0 for w in widths) and len(set(widths)) == 8
