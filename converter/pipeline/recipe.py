"""Recipes: a conversion pipeline as data (YAML, safe loading only).

Every section is a frozen dataclass; unknown keys fail naming the key, its line, the closest
valid key and all valid keys; cross-field checks run at load time, before TensorFlow is
imported. See recipes/README.md for the schema.
"""
from __future__ import annotations

import difflib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import yaml

from ..report.budgets import Budgets
from ..errors import InputError
from ..export.tflite import IO_TYPES, MODES, ConvertOptions
from ..inputs.preprocess import Preprocess

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"  # a link to the top-level recipes/ folder
RECIPE_SUFFIXES = (".yaml", ".yml")
MAX_RECIPE_BYTES = 1_000_000  # recipes are a few hundred bytes; anything this big is a mistake
MAX_RECIPE_VALUES = 10_000  # YAML aliases can expand exponentially ("billion laughs"): cap the expanded size


class RecipeError(InputError):
    """A recipe that cannot be used as written."""


def _setting(default, low=None, high=None, choices=None, power_of_two=False):
    """A field whose allowed values the loader checks (with the key's line), as the CLI does."""
    return field(default=default, metadata={"low": low, "high": high, "choices": choices, "power_of_two": power_of_two})


@dataclass(frozen=True)
class DistillStage:
    student: str = "tiny_cnn"  # a template (tiny_cnn, tiny_mlp) or a Keras model path
    width: float = _setting(1.0, low=0.05, high=16)
    alpha: float = _setting(0.1, low=0, high=1)
    temperature: float = _setting(4.0, low=1e-9)
    epochs: int = _setting(20, low=1)
    batch_size: int = _setting(32, low=1)
    learning_rate: float = _setting(2e-3, low=1e-12)


@dataclass(frozen=True)
class PruneStage:
    sparsity: float = _setting(0.75, low=1e-9, high=1 - 1e-9)
    schedule: str = _setting("polynomial", choices=("polynomial", "constant"))
    structure: str | None = None  # "2:4"
    block: str | None = None  # "4x1": Dense kernels pruned in blocks of 4 inputs (gzip-friendly)
    layers: dict = field(default_factory=dict)  # layer-name regex -> sparsity
    max_accuracy_drop: float | None = _setting(None, low=0, high=100)  # points: search the highest sparsity within it
    epochs: int = _setting(10, low=1)
    batch_size: int = _setting(32, low=1)
    learning_rate: float = _setting(1e-3, low=1e-12)

    def __post_init__(self):
        from ..optimize.layers import check_patterns

        check_patterns(self.layers)
        if self.structure is not None and not _m_by_n(self.structure):
            raise RecipeError(f"prune.structure '{self.structure}' is not M:N with 0 < M < N", hint="e.g. '2:4'")


def _m_by_n(text) -> tuple[int, int] | None:
    try:
        m, n = (int(v) for v in str(text).split(":"))
        return (m, n) if 0 < m < n else None
    except ValueError:
        return None


@dataclass(frozen=True)
class QatStage:
    preserve_sparsity: bool = False
    epochs: int = _setting(3, low=1)
    batch_size: int = _setting(32, low=1)
    learning_rate: float = _setting(1e-4, low=1e-12)


@dataclass(frozen=True)
class ConvertStage:
    mode: str = _setting("int8", choices=MODES)
    io: str = _setting("int8", choices=IO_TYPES)
    per_channel: bool = True
    samples: int = _setting(200, low=1)
    layer_errors: int = _setting(0, low=0)

    def __post_init__(self):
        ConvertOptions(mode=self.mode, io_type=self.io)  # convert's own cross-checks, before any work


@dataclass(frozen=True)
class ValidateStage:
    kernels: str = _setting("xnnpack", choices=("xnnpack", "reference"))
    workers: int = _setting(2, low=1, high=64)  # as `validate --workers`


@dataclass(frozen=True)
class ExplainStage:
    samples: int = _setting(10, low=1)
    num_samples: int = _setting(1000, low=10)  # LIME perturbations per sample
    top_k: int = _setting(5, low=1)
    min_agreement: float | None = _setting(None, low=0, high=1)  # budget on the mean top-k overlap


@dataclass(frozen=True)
class EdgeTpuStage:
    runtime: int = _setting(14, choices=(13, 14))
    require_full_mapping: bool = True


@dataclass(frozen=True)
class FirmwareOptions:
    xxd_names: bool = False  # name the array like `xxd -i` does (model_tflite, model_tflite_len)
    alignment: int = _setting(16, low=1, power_of_two=True)  # tflite-micro needs 16


@dataclass(frozen=True)
class PackageStage:
    firmware: FirmwareOptions | None = None
    mobile: bool = False
    description: str = ""


_PLAIN_TAGS = {"str", "int", "float", "bool", "null", "map", "seq"}
STAGES = {"distill": DistillStage, "prune": PruneStage, "qat": QatStage, "convert": ConvertStage, "validate": ValidateStage, "explain": ExplainStage, "edgetpu": EdgeTpuStage,
          "package": PackageStage}
NESTED = {"firmware": FirmwareOptions}


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str = ""
    model: str = "demo"  # a Keras model path, or 'demo' (train the built-in digits CNN)
    data: str = "demo"  # calibration and validation data; 'demo' = the digits split
    validation_data: str | None = None  # separate validation data (default: `data`)
    seed: int = _setting(0, low=0)
    preprocess: Preprocess = field(default_factory=Preprocess)
    stages: tuple = ()
    budgets: Budgets = field(default_factory=Budgets)

    def __post_init__(self):
        kinds = [type(s) for s in self.stages]
        if ConvertStage not in kinds:
            raise RecipeError(f"recipe '{self.name}' has no convert stage", hint="add `- convert: {}` to stages")
        first = kinds.index(ConvertStage)
        if any(k in (ValidateStage, ExplainStage, EdgeTpuStage, PackageStage) for k in kinds[:first]):
            raise RecipeError("validate, explain, edgetpu and package stages must come after convert",
                              hint="reorder the stages")
        if any(k in (DistillStage, PruneStage, QatStage) for k in kinds[first:]):
            raise RecipeError("distill, prune and qat stages must come before convert", hint="reorder the stages")
        if DistillStage in kinds and any(k in (PruneStage, QatStage) for k in kinds[:kinds.index(DistillStage)]):
            raise RecipeError("distill must come before prune and qat", hint="distill first, then optimize the student")
        qat = self.stage(QatStage)
        if qat and qat.preserve_sparsity and PruneStage not in kinds[:kinds.index(QatStage)]:
            raise RecipeError("qat.preserve_sparsity needs a prune stage before the qat stage",
                              hint="add `- prune: {sparsity: 0.75}` before qat, or drop preserve_sparsity")
        budgets_need_validation = self.budgets.max_accuracy_drop is not None or self.budgets.min_agreement is not None
        if budgets_need_validation and ValidateStage not in kinds:
            raise RecipeError("accuracy/agreement budgets need a validate stage", hint="add `- validate: {}`")

    def stage(self, kind):
        return next((s for s in self.stages if isinstance(s, kind)), None)


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
    """The resolved recipe, written next to the outputs of a run."""
    return yaml.safe_dump(_plain(recipe), sort_keys=False)


def _plain(value):
    if hasattr(value, "__dataclass_fields__"):
        if type(value) in STAGES.values():
            name = next(k for k, v in STAGES.items() if v is type(value))
            return {name: {f.name: _plain(getattr(value, f.name)) for f in fields(value)}}
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
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
        if f.name in data:
            _check_value(f, hints[f.name], data[f.name], path + (f.name,), _where(source, lines, path + (f.name,)))
    values = {k: _field(cls, k, v, path + (k,), lines, source) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as e:
        raise RecipeError(f"bad value in {'.'.join(map(str, path)) or 'recipe'}: {e}",
                          hint=_where(source, lines, path)) from None


def _check_value(f, hint, value, path: tuple, where: str) -> None:
    """The value's type, then the range or choices its field allows."""
    name = ".".join(str(p) for p in path if not isinstance(p, int))
    default = "" if f.default is MISSING else f" (default: {f.default!r})"
    if not _fits(value, hint):
        raise RecipeError(f"{name} must be {_describe(hint)}, not {value!r} ({where})",
                          hint=f"e.g. {path[-1]}: {f.default!r}" if isinstance(f.default, (int, float, str))
                          else "see recipes/README.md")
    m = f.metadata
    if value is None or not m:
        return
    if m["choices"] is not None and value not in m["choices"]:
        raise RecipeError(f"{name} must be one of {', '.join(map(str, m['choices']))}, not {value!r} ({where})",
                          hint=f"valid values: {', '.join(map(str, m['choices']))}{default}")
    low, high = m["low"], m["high"]
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else f"at least {low:g}" \
            if low is not None else f"at most {high:g}"
        raise RecipeError(f"{name} must be {bounds}, not {value!r} ({where})", hint=f"valid values: {bounds}{default}")
    if m["power_of_two"] and value & (value - 1):
        raise RecipeError(f"{name} must be a power of two, not {value} ({where})", hint=f"e.g. 8 or 16{default}")


_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string", dict: "a mapping",
               type(None): "null"}


def _fits(value, hint) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, a) for a in args)
    if hint is tuple or origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        return not args or (len(value) == len(items) and all(_fits(v, a) for v, a in zip(value, items)))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in _TYPE_NAMES:
        return isinstance(value, origin or hint)
    return True  # nested sections (dataclasses) are checked when they are built


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in args)
    if hint is tuple or origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0]).removeprefix('a ')}s"
        return f"a list of {len(args)} {_describe(args[0]).removeprefix('a ')}s" if args else "a list"
    return _TYPE_NAMES.get(hint, "a mapping")


def _field(cls, key, value, path, lines, source):
    if cls is Recipe and key == "stages":
        return tuple(_stage(item, path + (i,), lines, source) for i, item in enumerate(value or []))
    if cls is Recipe and key == "preprocess":
        spec = _build(Preprocess, value, path, lines, source)
        return Preprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.__dict__.items()})
    if cls is Recipe and key == "budgets":
        return _build(Budgets, value, path, lines, source)
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
