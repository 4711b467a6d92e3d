"""prune: TFMOT magnitude pruning (unstructured, M:N, block) with fine-tuning; optionally
the highest sparsity within an int8 accuracy budget. With `structured`, whole channels are
removed instead and a smaller dense model is rebuilt (optimize/structured.py)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ...settings import normalise, pair, setting
from ..context import Context
from . import training

NAME = "prune"
PHASE = "train"


def layer_sparsities(value) -> dict:
    """{regex: sparsity}, from a mapping or from REGEX=SPARSITY texts (0 keeps a layer dense)."""
    if isinstance(value, (list, tuple)):
        value = dict(_layer_item(str(item)) for item in value)
    if not isinstance(value, dict):
        raise ValueError(f"must map layer-name regexes to sparsities, not {value!r}")
    for pattern, sparsity in value.items():
        if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
            raise ValueError(f"'{pattern}': sparsity must be a number with 0 <= sparsity < 1, not {sparsity!r}")
    return {str(k): float(v) for k, v in value.items()}


def _layer_item(item: str) -> tuple[str, float]:
    pattern, _, sparsity = item.rpartition("=")
    try:
        value = float(sparsity)
    except ValueError:
        value = None
    if not pattern or value is None or not 0 <= value < 1:
        raise ValueError(f"'{item}' is not REGEX=SPARSITY with 0 <= sparsity < 1")
    return pattern, value


@dataclass(frozen=True)
class PruneConfig:
    sparsity: float = setting(0.75, low=0, high=1, open_low=True, open_high=True,
                              help="Target fraction of zero weights in Conv/Dense kernels.")
    schedule: str = setting("polynomial", choices=("polynomial", "constant"), help="How sparsity ramps up.")
    structure: tuple[int, int] | None = setting(None, parse=pair(":", "M:N with 0 < M < N", "2:4", strictly_less=True),
                                                metavar="M:N", help="Structured sparsity, e.g. 2:4.")
    block: tuple[int, int] | None = setting(None, parse=pair("x", "RxC with positive R and C", "4x1"), metavar="RxC",
                                            help="Prune Dense kernels in blocks of R inputs x C outputs, e.g. 4x1 "
                                                 "(compresses better).")
    layers: dict = setting({}, parse=layer_sparsities, flag="--layer", multiple=True, metavar="REGEX=SPARSITY",
                           help="Per-layer sparsity by layer-name regex (0 keeps a layer dense); wins over sparsity. "
                                "Structured: the fraction of channels removed from the layer's group.")
    types: dict = setting({}, parse=layer_sparsities, flag="--type", multiple=True, metavar="TYPE=SPARSITY",
                          help="Per-layer-type sparsity by Keras class name, e.g. Dense=0.9 (0 keeps that type "
                               "dense); --layer wins over it, and it over sparsity. Structured: the fraction of "
                               "channels removed.")
    max_accuracy_drop: float | None = setting(None, low=0, high=100,
                                              help="Search the highest sparsity whose int8 model loses at most this "
                                                   "many points (replaces sparsity).")
    structured: bool = setting(False, help="Remove whole channels (filters) and rebuild a smaller, faster dense "
                                           "model instead of zeroing weights.")
    channels: float | None = setting(None, low=0, high=1, open_high=True,
                                     help="Structured: fraction of each prunable channel group removed "
                                          "[0.5 unless target_macs is given].")
    target_macs: float | None = setting(None, low=0, high=1, open_low=True, open_high=True,
                                        help="Structured: fraction of the MACs to keep; the channel fraction is "
                                             "searched, e.g. 0.5.")
    importance: str = setting("bn", choices=("bn", "taylor", "l1", "l2"),
                              help="Structured: which channels stay: BatchNorm |gamma| (L1 norm where there is "
                                   "none), first-order Taylor on the data, or filter L1/L2 norm.")
    round_to: int = setting(8, low=1, help="Structured: kept channel counts are multiples of this.")
    distill: bool = setting(False, help="Structured: fine-tune to match the unpruned model's outputs "
                                        "(knowledge distillation).")
    int8_figures: bool = setting(True, flag="--int8-figures/--no-int8-figures",
                                 help="Structured: convert both models to int8 and report their size, arena and "
                                      "host latency.")
    epochs: int = training.epochs(10)
    batch_size: int = training.batch_size()
    learning_rate: float = training.learning_rate(1e-3)
    early_stop: bool = training.early_stop()

    def __post_init__(self):
        from ...optimize.layers import check_patterns

        normalise(self, NAME)
        check_patterns(self.layers)
        _check_structured(self)


def _check_structured(config) -> None:
    from ...settings import SettingError

    only_structured = [k for k in ("channels", "target_macs") if getattr(config, k) is not None]
    only_structured += ["distill"] if config.distill else []
    if not config.structured and only_structured:
        raise SettingError(f"prune.{only_structured[0]} is a setting of structured pruning",
                           hint="add structured: true (--structured)", key=only_structured[0])
    unstructured = [k for k in ("structure", "block", "max_accuracy_drop") if getattr(config, k) is not None]
    if config.structured and unstructured:
        raise SettingError(f"prune.{unstructured[0]} does not apply to structured pruning",
                           hint="structured pruning removes whole channels: use channels or target_macs",
                           key=unstructured[0])
    if config.channels is not None and config.target_macs is not None:
        raise SettingError("prune.channels and prune.target_macs both set the amount pruned",
                           hint="give one of them", key="channels")


def run(context: Context, config: PruneConfig):
    """The pruned model replaces `context.model`; adds the `pruning` section."""
    from ...optimize.prune import PRUNABLE_TYPES, PruneOptions, prune

    if config.structured:
        return _structured(context, config)
    check_types(context.model, config.types, PRUNABLE_TYPES)
    options = PruneOptions(config.sparsity, config.schedule, config.structure, config.layers,
                           train=training.train_options(config, context), block=config.block, by_type=config.types)
    if config.max_accuracy_drop is not None:
        options = _searched(context, config, options)
    result = prune(context.model, context.calibration, options)
    context.model = result.model
    context.save_model(result.model, "model_pruned.keras")
    context.report.add("pruning", **result.summary())
    return result


def _structured(context: Context, config: PruneConfig):
    """The smaller model replaces `context.model`; adds the `channels` section."""
    from ...optimize.structured import ChannelOptions, prune_channels

    check_types(context.model, config.types)
    options = ChannelOptions(ratio=0.5 if config.channels is None else config.channels, target_macs=config.target_macs,
                             importance=config.importance, round_to=config.round_to, overrides=config.layers,
                             by_type=config.types,
                             train=training.train_options(config, context), distill=config.distill)
    result = prune_channels(context.model, context.calibration, options)
    figures = {}
    if config.int8_figures:
        from ...optimize.channel_figures import int8_before_after

        figures = {"int8": int8_before_after(context.model, result.model, context.calibration, seed=context.seed)}
    context.model = result.model
    context.save_model(result.model, "model_pruned.keras")
    context.report.add("channels", **result.summary(), **figures)
    return result


def check_types(model, types: dict, prunable: tuple[str, ...] | None = None) -> None:
    """Each type rule names a layer class the model has (a typo would silently do nothing) and,
    for weight pruning, one that has prunable kernels."""
    from ...errors import InputError

    present = sorted(_layer_types(model))
    for name in types:
        if name not in present:
            raise InputError(f"layer type '{name}' is not in the model", hint=f"its layer types: {', '.join(present)}")
        if prunable is not None and name not in prunable:
            raise InputError(f"layer type '{name}' has no kernel weight pruning can zero",
                             hint=f"prunable types: {', '.join(prunable)}")


def _layer_types(model) -> set[str]:
    """Class names of the layers, nested models' layers included (pruning inlines them)."""
    names = set()
    for layer in getattr(model, "layers", []):
        names |= _layer_types(layer) if hasattr(layer, "layers") else {type(layer).__name__}
    return names


def _searched(context: Context, config: PruneConfig, options):
    from ...optimize.search import search_sparsity

    validation = context.validation if context.validation is not None else context.calibration
    search = search_sparsity(context.model, context.calibration, validation, config.max_accuracy_drop / 100, options)
    context.report.add("pruning", search={"chosen": search.chosen, "float_accuracy": search.float_accuracy,
                                          "curve": search.curve})
    return replace(options, sparsity=search.chosen)


CONFIG = PruneConfig
