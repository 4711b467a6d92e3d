"""Recipes: a conversion pipeline as data (YAML, safe loading only).

Every section is a frozen dataclass; unknown keys fail naming the key, its line, the closest
valid key and all valid keys; cross-field checks run at load time, before TensorFlow is
imported. See recipes/README.md for the schema.
"""
from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from ..errors import InputError
from ..inputs.preprocess import Preprocess
from ..report.budgets import Budgets
from ..settings import SettingError, check_value, setting
from ..tune.space import SearchError, SearchSpace, parse_space
from .steps import CONFIGS as STAGES, STEPS, name_of
from .steps.package import FirmwareConfig

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"  # a link to the top-level recipes/ folder
RECIPE_SUFFIXES = (".yaml", ".yml")
MAX_RECIPE_BYTES = 1_000_000  # recipes are a few hundred bytes; anything this big is a mistake
MAX_RECIPE_VALUES = 10_000  # YAML aliases can expand exponentially ("billion laughs"): cap the expanded size


class RecipeError(InputError):
    """A recipe that cannot be used as written."""


_PLAIN_TAGS = {"str", "int", "float", "bool", "null", "map", "seq"}
NESTED = {"firmware": FirmwareConfig}


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str = ""
    model: str = "demo"  # a Keras model path, or 'demo' (train the built-in digits CNN)
    data: str = "demo"  # calibration and validation data; 'demo' = the digits split
    validation_data: str | None = None  # separate validation data (default: `data`)
    seed: int = setting(0, low=0)
    demo_epochs: int = setting(30, low=1, high=500)  # training epochs of the built-in CNN (model: demo)
    preprocess: Preprocess = field(default_factory=Preprocess)
    stages: tuple = ()
    budgets: Budgets = field(default_factory=Budgets)
    search: SearchSpace = field(default_factory=SearchSpace)  # what `edgeconv tune` varies; `run` ignores it

    def __post_init__(self):
        names = [name_of(s) for s in self.stages]
        phases = [STEPS[n].PHASE for n in names]
        if "convert" not in names:
            raise RecipeError(f"recipe '{self.name}' has no convert stage", hint="add `- convert: {}` to stages")
        first = names.index("convert")
        if "model" in phases[:first]:
            after = ", ".join(n for n in STEPS if STEPS[n].PHASE == "model")
            raise RecipeError(f"{after} stages must come after convert", hint="reorder the stages")
        if "train" in phases[first:]:
            raise RecipeError("distill, prune and qat stages must come before convert", hint="reorder the stages")
        if "distill" in names and any(n in ("prune", "qat") for n in names[:names.index("distill")]):
            raise RecipeError("distill must come before prune and qat", hint="distill first, then optimize the student")
        qat = self.stage("qat")
        if qat and qat.preserve_sparsity and "prune" not in names[:names.index("qat")]:
            raise RecipeError("qat.preserve_sparsity needs a prune stage before the qat stage",
                              hint="add `- prune: {sparsity: 0.75}` before qat, or drop preserve_sparsity")
        budgets_need_validation = self.budgets.max_accuracy_drop is not None or self.budgets.min_agreement is not None
        if budgets_need_validation and "validate" not in names:
            raise RecipeError("accuracy/agreement budgets need a validate stage", hint="add `- validate: {}`")
        self.search.check(self)

    def stage(self, name: str):
        """The config of the recipe's `name` step, or None."""
        return next((s for s in self.stages if name_of(s) == name), None)


def resolve(name_or_path: str) -> Path:
    """A bundled recipe by name, or a path to a .yaml/.yml file."""
    path = Path(name_or_path)
    if name_or_path in bundled_names():
        return RECIPES_DIR / f"{name_or_path}.yaml"
    if path.suffix in RECIPE_SUFFIXES:
        if not path.is_file():
            raise RecipeError(f"recipe file {path} does not exist", hint="give a .yaml path or a bundled name")
        return path
    if path.exists():
        raise RecipeError(f"{path} is not a recipe file (recipes end in .yaml or .yml)",
                          hint=f"bundled recipes: {', '.join(bundled_names())}")
    raise RecipeError(f"no bundled recipe named '{name_or_path}'", hint=f"bundled recipes: {', '.join(bundled_names())}")


def bundled_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str, overrides: list[str] = ()) -> Recipe:
    path = resolve(name_or_path)
    if path.stat().st_size > MAX_RECIPE_BYTES:
        raise RecipeError(f"{path} is {path.stat().st_size:,} bytes, too big for a recipe",
                          hint=f"recipes are small YAML files (at most {MAX_RECIPE_BYTES:,} bytes)")
    lines: dict[tuple, int] = {}
    data = _plain_yaml(path.read_text(errors="replace"), str(path), (), lines)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise RecipeError(f"{path} must hold a mapping of recipe keys", hint="see recipes/README.md")
    if path.parent.resolve() != RECIPES_DIR.resolve():
        _resolve_paths(data, path.parent)
    for item in overrides:
        _override(data, item, lines)
    data.setdefault("name", path.stem)
    return _build(Recipe, data, (), lines, str(path))


def _resolve_paths(data: dict, folder: Path) -> None:
    """Relative paths in a recipe file name files beside it, wherever the build runs from.
    (Bundled recipes and --set values keep resolving against the current folder.)"""
    from ..optimize.distill import TEMPLATES

    def rebase(value, keep=("demo",)):
        if not isinstance(value, str) or value in keep or Path(value).is_absolute():
            return value
        return str(folder / value)

    for key in ("model", "data", "validation_data"):
        if key in data:
            data[key] = rebase(data[key])
    stages = data.get("stages")
    for stage in stages if isinstance(stages, list) else []:
        settings = stage.get("distill") if isinstance(stage, dict) else None
        if isinstance(settings, dict) and "student" in settings:
            settings["student"] = rebase(settings["student"], keep=TEMPLATES)


def to_yaml(recipe: Recipe) -> str:
    """The resolved recipe, written next to the outputs of a run (the search section as written)."""
    plain = _plain(recipe)
    if not recipe.search:
        del plain["search"]
    return yaml.safe_dump(plain, sort_keys=False)


def _plain(value):
    if isinstance(value, SearchSpace):
        return value.raw
    if hasattr(value, "__dataclass_fields__"):
        if type(value) in STAGES.values():
            return {name_of(value): {f.name: _plain(getattr(value, f.name)) for f in fields(value)}}
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _plain_yaml(text: str, source: str, path: tuple, lines: dict):
    """YAML text -> plain data (see _python); `path` roots the keys of an override."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise RecipeError(f"{source} is not valid YAML: {str(e).splitlines()[0]}",
                          hint=f"see line {getattr(getattr(e, 'problem_mark', None), 'line', -1) + 1}") from None
    return _python(node, path, lines) if node is not None else None


def _python(node, path: tuple, lines: dict):
    """Node tree -> plain data, recording each key's line. Only YAML's own tags are accepted:
    nothing in a recipe can construct Python objects. Aliases are expanded, within a bound."""
    lines[path] = node.start_mark.line + 1
    if len(lines) > MAX_RECIPE_VALUES:
        raise RecipeError(f"the recipe expands to more than {MAX_RECIPE_VALUES:,} values (YAML aliases?)",
                          hint="write the recipe out plainly; anchors and aliases may repeat a value, not multiply it")
    if node.tag.removeprefix("tag:yaml.org,2002:") not in _PLAIN_TAGS:
        raise RecipeError(f"unsupported YAML tag {node.tag} at line {node.start_mark.line + 1}",
                          hint="recipes hold plain data: strings, numbers, lists and mappings")
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = yaml.SafeLoader(k.value).construct_object(k) if not isinstance(k, yaml.ScalarNode) else k.value
            if key in out:
                raise RecipeError(f"duplicate key '{key}' at lines {lines[path + (key,)]} and {k.start_mark.line + 1}",
                                  hint="keep one of them: YAML would silently use the last")
            lines[path + (key,)] = k.start_mark.line + 1
            out[key] = _python(v, path + (key,), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_python(v, path + (i,), lines) for i, v in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node) if node.tag != "tag:yaml.org,2002:str" else node.value


def _override(data: dict, item: str, lines: dict) -> None:
    """--set a.b=value: YAML-typed value into the nested mapping (stages by kind: stages.convert.samples).
    The keys it sets are located as "--set ..." in messages."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise RecipeError(f"--set '{item}' is not key=value", hint="e.g. --set seed=3 or --set stages.convert.samples=100")
    value = _plain_yaml(raw, f"--set {key}", ("--set", key), {})
    parts = key.split(".")
    target, path = data, ()
    if parts[0] == "stages" and len(parts) > 1:
        if len(parts) < 3 or parts[1].isdigit():
            raise RecipeError(f"--set {key}: stage settings are named by stage, not position: stages.STAGE.KEY",
                              hint="e.g. --set stages.convert.samples=100")
        index = next((i for i, s in enumerate(data.get("stages") or []) if isinstance(s, dict) and parts[1] in s), None)
        if index is None:
            raise RecipeError(f"--set {key}: the recipe has no {parts[1]} stage", hint="set keys of existing stages")
        target, path, parts = data["stages"][index], ("stages", index), parts[1:]
    for p in parts[:-1]:
        path += (p,)
        if target.get(p) is None:
            target[p], lines[path] = {}, f"--set {item}"
        target = target[p]
        if not isinstance(target, dict):
            raise RecipeError(f"--set {key}: {'.'.join(map(str, path))} is {target!r}, not a mapping of keys",
                              hint="see recipes/README.md for the keys a recipe has")
    target[parts[-1]] = value
    lines[path + (parts[-1],)] = f"--set {item}"


def _where(source: str, lines: dict, path: tuple) -> str:
    line = lines.get(path)
    if isinstance(line, str):  # set by --set
        return line
    return f"{source}, line {line}" if line else source


def _build(cls, data, path: tuple, lines: dict, source: str):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecipeError(f"{'.'.join(map(str, path)) or 'recipe'} must be a mapping ({_where(source, lines, path)})",
                          hint="write key: value pairs")
    valid = [f.name for f in fields(cls)]
    for key in data:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            raise RecipeError(
                f"unknown key '{key}' in {'.'.join(map(str, path)) or 'recipe'} ({_where(source, lines, path + (key,))})"
                + (f"; did you mean '{close[0]}'?" if close else ""),
                hint=f"valid keys: {', '.join(valid)}")
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.name in data and not hasattr(hints[f.name], "__dataclass_fields__"):
            data[f.name] = _checked(f, hints[f.name], data[f.name], path + (f.name,), _where(source, lines, path + (f.name,)))
    values = {k: _field(cls, k, v, path + (k,), lines, source) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as e:
        raise RecipeError(f"bad value in {'.'.join(map(str, path)) or 'recipe'}: {e}",
                          hint=_where(source, lines, path)) from None
    except (RecipeError, SearchError):  # they name their own line
        raise
    except InputError as e:  # a cross-check between settings (e.g. io uint8 needs mode int8)
        raise RecipeError(f"{e.message} ({_where(source, lines, path)})", hint=e.hint) from None


def _checked(f, hint, value, path: tuple, where: str):
    """The value as its setting normalises it; a bad one fails naming the key and its line."""
    name = ".".join(str(p) for p in path if not isinstance(p, int))
    if hasattr(hint, "__args__") and any(hasattr(a, "__dataclass_fields__") for a in hint.__args__):
        return value  # a nested section (firmware), built by _field
    try:
        return check_value(name, f, hint, value)
    except SettingError as e:
        raise RecipeError(f"{e.message} ({where})", hint=e.hint) from None


def _field(cls, key, value, path, lines, source):
    if cls is Recipe and key == "stages":
        return tuple(_stage(item, path + (i,), lines, source) for i, item in enumerate(value or []))
    if cls is Recipe and key == "preprocess":
        spec = _build(Preprocess, value, path, lines, source)
        return Preprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.__dict__.items()})
    if cls is Recipe and key == "budgets":
        return _build(Budgets, value, path, lines, source)
    if cls is Recipe and key == "search":
        return parse_space(value, lambda p: _where(source, lines, p))
    if key in NESTED and value not in (None, False):
        return _build(NESTED[key], {} if value is True else value, path, lines, source)
    return value


def _stage(item, path, lines, source):
    if not isinstance(item, dict) or len(item) != 1:
        raise RecipeError(f"each stage is a one-key mapping like `- convert: {{...}}` ({_where(source, lines, path)})",
                          hint=f"stages: {', '.join(STAGES)}")
    (kind, settings), = item.items()
    if kind not in STAGES:
        close = difflib.get_close_matches(str(kind), list(STAGES), n=1)
        raise RecipeError(f"unknown stage '{kind}' ({_where(source, lines, path + (kind,))})"
                          + (f"; did you mean '{close[0]}'?" if close else ""), hint=f"stages: {', '.join(STAGES)}")
    return _build(STAGES[kind], settings, path + (kind,), lines, source)
