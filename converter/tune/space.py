"""A recipe's `search:` section: the settings `edgeconv tune` varies, per step, within ranges.

    search:
      prune:
        sparsity: [0.3, 0.8]                     # two numbers: a range (whole numbers: an int range)
        variants: [{}, {structure: "2:4"}, {block: "4x1"}, {structured: true, channels: [0.2, 0.6]}]
      qat: {enabled: [true, false], epochs: [1, 4]}
      convert: {calibration: [minmax, percentile, mse], samples: {low: 64, high: 512, log: true}}

A value is a range (`[low, high]` of numbers, or `{low, high, log}`), a list of choices
(`[a, b, c]`, or `{choices: [...]}` for numeric choices), or one fixed value. `variants` is one
choice among mappings of settings (each may hold ranges of its own): structures of a step that
exclude each other. `enabled` keeps or drops a training step. Every end of a range and every
choice is checked by the step's own setting (settings.py: one definition of what a setting
allows), and every combination's cross-checks run at load time, so a bad search fails before
TensorFlow starts. No Optuna here: `sample` takes any object with Optuna's suggest methods."""
from __future__ import annotations

import difflib
import itertools
import math
import typing
from dataclasses import dataclass, field, fields, replace

from ..errors import InputError
from ..settings import SettingError, check_value

TRAINING = ("distill", "prune", "qat")  # the steps `enabled` may drop
_RESERVED = ("enabled", "variants")
_MOST_COMBINATIONS = 256  # per variant: building a config takes microseconds


class SearchError(InputError):
    """A search section that cannot be used as written."""


@dataclass(frozen=True)
class Dimension:
    """One searched setting: an Optuna parameter named `name` (step.key, or step.N.key inside
    variant N)."""

    name: str
    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple | None = None

    def sample(self, trial):
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)

    def candidates(self) -> tuple:
        """The values the load-time check builds configs with: both ends, or every choice."""
        return self.choices if self.choices is not None else (self.low, self.high)


@dataclass(frozen=True)
class Variant:
    label: str
    fixed: dict = field(default_factory=dict)
    dims: tuple[Dimension, ...] = ()


@dataclass(frozen=True)
class StepSpace:
    step: str
    where: str  # "recipe.yaml, line 12": where the step's search entry is written
    fixed: dict = field(default_factory=dict)
    dims: tuple[Dimension, ...] = ()
    variants: tuple[Variant, ...] = ()
    enabled: Dimension | None = None

    def sample(self, trial) -> dict | None:
        """The settings of one trial, or None when the step is dropped."""
        if self.enabled is not None and not self.enabled.sample(trial):
            return None
        values = {**self.fixed, **{d.key: d.sample(trial) for d in self.dims}}
        if self.variants:
            labels = [v.label for v in self.variants]
            chosen = self.variants[labels.index(trial.suggest_categorical(f"{self.step}.variant", labels))]
            values.update({**chosen.fixed, **{d.key: d.sample(trial) for d in chosen.dims}})
        return values

    def corners(self):
        """Settings to check at load time: every combination of the candidates (both ends of each
        range, every choice) of each variant when there are few, else each candidate of each
        dimension with the others at their first."""
        for variant in self.variants or (Variant("", {}),):
            dims = self.dims + variant.dims
            fixed = {**self.fixed, **variant.fixed}
            if math.prod(len(d.candidates()) for d in dims) <= _MOST_COMBINATIONS:
                for combination in itertools.product(*(d.candidates() for d in dims)):
                    yield {**fixed, **{d.key: v for d, v in zip(dims, combination)}}
                continue
            base = {**fixed, **{d.key: d.candidates()[0] for d in dims}}
            yield base
            for d in dims:
                for value in d.candidates()[1:]:
                    yield {**base, d.key: value}


@dataclass(frozen=True)
class SearchSpace:
    steps: tuple[StepSpace, ...] = ()
    raw: dict = field(default_factory=dict, compare=False)  # as written: a resolved recipe writes it back

    def __bool__(self) -> bool:
        return bool(self.steps)

    def sample(self, trial) -> dict[str, dict | None]:
        return {s.step: s.sample(trial) for s in self.steps}

    def check(self, recipe) -> None:
        """Every searched step is in the recipe, and every combination the search can make
        builds (the steps' cross-checks, and the recipe's: e.g. qat.preserve_sparsity needs prune)."""
        from ..pipeline.steps import name_of

        names = [name_of(s) for s in recipe.stages]
        for space in self.steps:
            if space.step not in names:
                raise SearchError(f"search.{space.step}: the recipe has no {space.step} step ({space.where})",
                                  hint=f"search the recipe's steps: {', '.join(names)}; or add the step to stages")
            for settings in space.corners():
                try:
                    apply(recipe, {space.step: settings})
                except InputError as e:
                    raise SearchError(f"search.{space.step} can make a step that does not build: {e.message} "
                                      f"({space.where})", hint=e.hint or "narrow the search") from None
            if space.enabled is not None:
                others = {s.step: next(s.corners()) for s in self.steps if s is not space}
                try:
                    apply(recipe, {**others, space.step: None})
                except InputError as e:
                    raise SearchError(f"search.{space.step}.enabled: without {space.step} the recipe does not "
                                      f"build: {e.message} ({space.where})", hint=e.hint) from None

    def parameters(self) -> list[str]:
        return [d.name for s in self.steps for d in (*((s.enabled,) if s.enabled else ()), *s.dims,
                                                     *(d for v in s.variants for d in v.dims))] + \
            [f"{s.step}.variant" for s in self.steps if s.variants]


def apply(recipe, values: dict[str, dict | None]):
    """The recipe with each step's settings replaced (None drops the step), its search emptied:
    a plain recipe that `edgeconv run` reproduces."""
    from ..pipeline.steps import name_of

    stages = []
    for config in recipe.stages:
        name = name_of(config)
        if name in values and values[name] is None:
            continue
        stages.append(replace(config, **values[name]) if values.get(name) else config)
    return replace(recipe, stages=tuple(stages), search=SearchSpace())


def parse_space(data, where) -> SearchSpace:
    """`data` as written under `search:`; `where(path)` locates a key ("file, line N")."""
    from ..pipeline.steps import CONFIGS

    if data is None:
        return SearchSpace()
    if not isinstance(data, dict):
        raise SearchError(f"search must map step names to their searched settings ({where(('search',))})",
                          hint="e.g. search: {prune: {sparsity: [0.3, 0.8]}}")
    steps = []
    for step, settings in data.items():
        path = ("search", step)
        if step not in CONFIGS:
            close = difflib.get_close_matches(str(step), list(CONFIGS), n=1)
            raise SearchError(f"unknown step '{step}' in search ({where(path)})"
                              + (f"; did you mean '{close[0]}'?" if close else ""), hint=f"steps: {', '.join(CONFIGS)}")
        steps.append(_step_space(step, CONFIGS[step], settings, path, where))
    return SearchSpace(tuple(steps), raw=data)


def _step_space(step: str, config, settings, path: tuple, where) -> StepSpace:
    if not isinstance(settings, dict) or not settings:
        raise SearchError(f"search.{step} must map settings to ranges or choices ({where(path)})",
                          hint=f"e.g. {step}: {{{_example(config)}}}")
    settings = dict(settings)
    enabled = None
    if "enabled" in settings:
        if step not in TRAINING:
            raise SearchError(f"search.{step}.enabled: only training steps can be dropped ({where(path + ('enabled',))})",
                              hint=f"enabled applies to {', '.join(TRAINING)}")
        value = settings.pop("enabled")
        if value not in ([True, False], [False, True]):
            raise SearchError(f"search.{step}.enabled must be [true, false], not {value!r} ({where(path + ('enabled',))})",
                              hint="drop the key to always run the step")
        enabled = Dimension(f"{step}.enabled", "enabled", choices=(True, False))
    variants = _variants(step, config, settings.pop("variants", None), path + ("variants",), where)
    fixed, dims = _settings(step, config, settings, path, where, prefix=step)
    return StepSpace(step, where(path), fixed, dims, variants, enabled)


def _variants(step, config, value, path, where) -> tuple[Variant, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
        raise SearchError(f"search.{step}.variants must be a list of at least two mappings of settings "
                          f"({where(path)})", hint='e.g. variants: [{}, {structure: "2:4"}]')
    out = []
    for i, item in enumerate(value):
        fixed, dims = _settings(step, config, item, path + (i,), where, prefix=f"{step}.{i}")
        label = ", ".join(f"{k}={v}" for k, v in item.items() if not isinstance(v, (list, dict))) or f"variant {i}"
        out.append(Variant(label if label not in [v.label for v in out] else f"{label} ({i})", fixed, dims))
    return tuple(out)


def _settings(step, config, settings: dict, path: tuple, where, prefix: str) -> tuple[dict, tuple[Dimension, ...]]:
    specs = {f.name: f for f in fields(config)}
    hints = typing.get_type_hints(config)
    fixed, dims = {}, []
    for key, value in settings.items():
        if key not in specs:
            valid = [*specs, *_RESERVED]
            close = difflib.get_close_matches(str(key), valid, n=1)
            raise SearchError(f"unknown setting '{key}' in search.{step} ({where(path + (key,))})"
                              + (f"; did you mean '{close[0]}'?" if close else ""), hint=f"settings: {', '.join(specs)}")
        at = where(path + (key,))
        check = lambda v: _checked(f"search.{step}.{key}", specs[key], hints[key], v, at)  # noqa: E731
        dim = _dimension(f"{prefix}.{key}", key, value, hints[key], check, at, _takes_a_list(specs[key], hints[key]))
        if dim is None:
            fixed[key] = value
            check(value)
        else:
            dims.append(dim)
    return fixed, tuple(dims)


def _dimension(name: str, key: str, value, hint, check, at: str, list_valued: bool = False) -> Dimension | None:
    """A range or choices; None for a fixed value (a list is one for a setting that takes a list:
    prune.layers; its choices are written {choices: [...]})."""
    numeric = _numeric(hint)
    if isinstance(value, dict):
        if set(value) == {"choices"}:
            value = value["choices"]
            if not isinstance(value, list) or len(value) < 2:
                raise SearchError(f"search.{name}: choices must be a list of at least two values ({at})", hint="e.g. [64, 128]")
            return _choices(name, key, value, check, at)
        if not numeric or not {"low", "high"} <= set(value) <= {"low", "high", "log"}:
            raise SearchError(f"search.{name}: a mapping here is {{low, high, log}} for a numeric setting or {{choices}} "
                              f"({at})", hint="e.g. {low: 64, high: 512, log: true}")
        return _range(name, key, value["low"], value["high"], bool(value.get("log", False)), numeric, check, at)
    if isinstance(value, list) and not list_valued:
        if numeric and len(value) == 2 and all(_is_number(v) for v in value):
            return _range(name, key, value[0], value[1], False, numeric, check, at)
        if len(value) < 2:
            raise SearchError(f"search.{name}: a list of choices needs at least two ({at})", hint="or give the one value")
        return _choices(name, key, value, check, at)
    return None


def _range(name, key, low, high, log, numeric, check, at) -> Dimension:
    if not (_is_number(low) and _is_number(high)):
        raise SearchError(f"search.{name}: a range is two numbers, not {low!r} and {high!r} ({at})", hint="e.g. [0.3, 0.8]")
    integer = numeric is int
    if integer and not (isinstance(low, int) and isinstance(high, int)):
        raise SearchError(f"search.{name} is a whole number: its range needs whole ends, not [{low}, {high}] ({at})",
                          hint="e.g. [1, 4]")
    if not low < high:
        raise SearchError(f"search.{name}: the range [{low}, {high}] is empty; the low end comes first ({at})",
                          hint=f"e.g. [{min(low, high)}, {max(low, high)}], or the one value alone")
    if log and low <= 0:
        raise SearchError(f"search.{name}: a log range needs a positive low end, not {low} ({at})", hint="drop log: true")
    check(low)
    check(high)
    return Dimension(name, key, low, high, log, integer)


def _choices(name, key, values: list, check, at) -> Dimension:
    for v in values:
        if not (v is None or isinstance(v, (bool, int, float, str))):
            raise SearchError(f"search.{name}: a choice is one plain value, not {v!r} ({at})",
                              hint="several settings that go together are variants: variants: [{...}, {...}]")
        check(v)
    if len(set(map(repr, values))) != len(values):
        raise SearchError(f"search.{name}: the choices {values} repeat a value ({at})", hint="list each choice once")
    return Dimension(name, key, choices=tuple(values))


def _checked(name: str, f, hint, value, at: str):
    try:
        return check_value(name, f, hint, value)
    except SettingError as e:
        raise SearchError(f"{e.message} ({at})", hint=e.hint) from None


def _takes_a_list(f, hint) -> bool:
    from ..settings import spec_of

    return spec_of(f).multiple or hint is dict or typing.get_origin(hint) is dict


def _numeric(hint):
    """int or float when the setting takes a number (optionally None), else None."""
    args = typing.get_args(hint) or (hint,)
    kinds = [a for a in args if a is not type(None)]
    return kinds[0] if len(kinds) == 1 and kinds[0] in (int, float) else None


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _example(config) -> str:
    numeric = [f.name for f in fields(config) if _numeric(typing.get_type_hints(config)[f.name])]
    return f"{numeric[0]}: [low, high]" if numeric else "setting: [choice, choice]"
