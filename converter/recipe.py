"""Recipes: a conversion pipeline as data (YAML, safe loading only).

Every section is a frozen dataclass; unknown keys fail naming the key, its line, the closest
valid key and all valid keys; cross-field checks run at load time, before TensorFlow is
imported. See recipes/README.md for the schema.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .budgets import Budgets
from .errors import InputError
from .preprocess import Preprocess

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"  # a link to the top-level recipes/ folder
RECIPE_SUFFIXES = (".yaml", ".yml")
MAX_RECIPE_BYTES = 1_000_000  # recipes are a few hundred bytes; anything this big is a mistake
MAX_RECIPE_VALUES = 10_000  # YAML aliases can expand exponentially ("billion laughs"): cap the expanded size


class RecipeError(InputError):
    """A recipe that cannot be used as written."""


@dataclass(frozen=True)
class DistillStage:
    student: str = "tiny_cnn"  # a template (tiny_cnn, tiny_mlp) or a Keras model path
    width: float = 1.0
    alpha: float = 0.1
    temperature: float = 4.0
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 2e-3


@dataclass(frozen=True)
class PruneStage:
    sparsity: float = 0.75
    schedule: str = "polynomial"
    structure: str | None = None  # "2:4"
    block: str | None = None  # "4x1": Dense kernels pruned in blocks of 4 inputs (gzip-friendly)
    layers: dict = field(default_factory=dict)  # layer-name regex -> sparsity
    max_accuracy_drop: float | None = None  # points: search the highest sparsity within it (replaces sparsity)
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3

    def __post_init__(self):
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
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-4


@dataclass(frozen=True)
class ConvertStage:
    mode: str = "int8"
    io: str = "int8"
    per_channel: bool = True
    samples: int = 200
    layer_errors: int = 0


@dataclass(frozen=True)
class ValidateStage:
    kernels: str = "xnnpack"
    workers: int = 2


@dataclass(frozen=True)
class ExplainStage:
    samples: int = 10
    num_samples: int = 1000  # LIME perturbations per sample
    top_k: int = 5
    min_agreement: float | None = None  # budget on the mean top-k overlap (0..1)


@dataclass(frozen=True)
class EdgeTpuStage:
    runtime: int = 14
    require_full_mapping: bool = True


@dataclass(frozen=True)
class FirmwareOptions:
    xxd_names: bool = False  # name the array like `xxd -i` does (model_tflite, model_tflite_len)
    alignment: int = 16


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
    seed: int = 0
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
    for item in overrides:
        _override(data, item)
    data.setdefault("name", path.stem)
    return _build(Recipe, data, (), lines, str(path))


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
            lines[path + (key,)] = k.start_mark.line + 1
            out[key] = _python(v, path + (key,), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_python(v, path + (i,), lines) for i, v in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node) if node.tag != "tag:yaml.org,2002:str" else node.value


def _override(data: dict, item: str) -> None:
    """--set a.b=value: YAML-typed value into the nested mapping (stages by kind: stages.convert.samples)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise RecipeError(f"--set '{item}' is not key=value", hint="e.g. --set seed=3 or --set stages.convert.samples=100")
    value = _plain_yaml(raw, f"--set {key}", ("--set", key), {})
    parts = key.split(".")
    target = data
    if parts[0] == "stages" and len(parts) == 3:
        stage = next((s for s in data.get("stages", []) if isinstance(s, dict) and parts[1] in s), None)
        if stage is None:
            raise RecipeError(f"--set {key}: the recipe has no {parts[1]} stage", hint="set keys of existing stages")
        target, parts = stage, parts[1:]
    for p in parts[:-1]:
        target = target.setdefault(p, {})
        if target is None:
            target = {}
    target[parts[-1]] = value


def _where(source: str, lines: dict, path: tuple) -> str:
    line = lines.get(path)
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
    values = {k: _field(cls, k, v, path + (k,), lines, source) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as e:
        raise RecipeError(f"bad value in {'.'.join(map(str, path)) or 'recipe'}: {e}",
                          hint=_where(source, lines, path)) from None


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
