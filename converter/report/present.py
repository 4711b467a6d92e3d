"""A report section as short tables of readable cells: units by figure name, no raw arrays,
layer names rather than TFLite tensor names, and no cell longer than a line."""
from __future__ import annotations

from ..tflite.kind import KINDS
from . import units

LONGEST_CELL = 80
_LONGEST_LIST = 8
_PLOTTED = {"histogram_ms"}  # drawn in the HTML report; the numbers stay in report.json
_NOT_SHOWN = {"word_bits", "assumes", "tensor"}  # said by the row label, or too long to read

Block = tuple[str, list[str], list[list[str]]]  # (caption, header, rows of cells)


def blocks(name: str, figures: dict) -> list[Block]:
    """A section as (caption, header, rows) tables: the figures of each model it measured as one
    table with a column per model, its other scalar figures as one figure/value table, then each
    list of records as a table of its own."""
    out: list[Block] = []
    models = {k: figures[k] for k in sorted((k for k, v in figures.items() if k in KINDS and isinstance(v, dict)),
                                            key=lambda k: (k != "float32", KINDS.index(k)))}  # as the summary card
    if models:
        out.append(("", ["figure", *models], _by_model(name, models)))
        figures = {k: v for k, v in figures.items() if k not in models}
    if is_table(figures):
        return out + [("", *_records(figures))]
    scalars = [[label(k), cell(k, v)] for k, v in figures.items() if not is_table(v)]
    if scalars:
        out.append(("", ["figure", "value"], scalars))
    out += [(label(k), *_records(v)) for k, v in figures.items() if is_table(v)]
    return out


def _by_model(section: str, models: dict[str, dict]) -> list[list[str]]:
    """One row per figure; a figure one model lacks shows as '–'."""
    flat = {m: dict(_readable_rows(section, f)) for m, f in models.items()}
    names = list(dict.fromkeys(n for f in flat.values() for n in f))
    return [[n, *(f.get(n, "–") for f in flat.values())] for n in names]


def _readable_rows(section: str, figures: dict):
    if section == "memory":
        yield from _memory_rows(figures)
        return
    for key, value in _flatten(figures):
        yield label(key), cell(key, value)


def _memory_rows(m: dict):
    """The arena in three readable rows instead of a dozen dotted ones."""
    measured = m.get("arena_measured", {})
    if "total_bytes" in measured:
        yield f"arena, measured by {measured['measured_by']}", _head_tail(measured)
    elif "unavailable" in measured:
        yield "arena, measured", shorten(f"not measured: {measured['unavailable']}")
    for bits, what in (("32bit", "32-bit MCU"), ("64bit", "64-bit host")):
        est = m.get("arena_estimate", {}).get(bits)
        if est:
            unknown = f"; unknown ops: {', '.join(est['unknown_ops'])}" if est.get("unknown_ops") else ""
            yield f"arena, estimated for a {what}", shorten(_head_tail(est) + unknown)
    if "arena_naive_bytes" in m:
        yield "arena without buffer reuse", units.size(m["arena_naive_bytes"])
    if "runtime_peak_rss_bytes" in m:
        yield f"peak RSS of the {m.get('runtime_peak_rss_on', 'runtime')}", units.size(m["runtime_peak_rss_bytes"])


def _head_tail(arena: dict) -> str:
    total = units.size(arena["total_bytes"])
    if "head_bytes" not in arena or "tail_bytes" not in arena:
        return total
    return f"{total} ({units.size(arena['head_bytes'])} head + {units.size(arena['tail_bytes'])} tail)"


def _flatten(figures: dict, prefix: str = ""):
    for k, v in figures.items():
        if k in _PLOTTED or k in _NOT_SHOWN:
            continue
        if isinstance(v, dict) and v and not (k == "ops" and _is_counts(v)):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _is_counts(d: dict) -> bool:
    """A small {name: number} dict of op counts reads best in one cell."""
    return len(d) <= _LONGEST_LIST and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in d.values())


def is_table(v) -> bool:
    records = list(v.values()) if isinstance(v, dict) else v
    return isinstance(records, (list, tuple)) and bool(records) and all(isinstance(r, dict) for r in records)


def _records(v) -> tuple[list[str], list[list[str]]]:
    rows = [{"": k, **r} for k, r in v.items()] if isinstance(v, dict) else list(v)
    if all(r.get("layer") for r in rows):  # the layer names it: the fused TFLite tensor name adds nothing
        rows = [{k: x for k, x in r.items() if k != "tensor"} for r in rows]
    cols = list(dict.fromkeys(c for r in rows for c in r))
    return [label(c) for c in cols], [[cell(c, r.get(c)) for c in cols] for r in rows]


def label(key: str) -> str:
    """'arena_estimate.32bit.total_bytes' -> 'arena estimate 32bit total': the unit is in the cell."""
    for suffix in ("_ms", "_bytes", "_lsb"):
        if key.endswith(suffix) and key != suffix[1:]:
            key = key[: -len(suffix)]
    return key.replace(".", " ").replace("_", " ")


def cell(key: str, value) -> str:
    """One value as text with its unit, chosen by the figure's name."""
    return shorten(_text(key.rsplit(".", 1)[-1], key, value))


def _text(name: str, key: str, value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(k, k, v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        if name == "figures" and all(isinstance(v, str) for v in value):
            return f"{len(value)} PNG files beside the report"
        if len(value) > _LONGEST_LIST:
            return f"{len(value)} values (in report.json)"
        return ", ".join(_text(name, key, v) for v in value) if value else "none"
    if isinstance(value, (int, float)):
        return _number(name, key, value)
    return str(value)


def _number(name: str, key: str, v: float) -> str:
    if name.endswith("_ms"):
        return units.duration(v)
    if name.endswith("bytes") or name == "bytes" or key.startswith("breakdown."):
        return units.size(v)
    if name in ("seconds", "seconds_per_epoch") or name.endswith("_seconds"):
        return units.seconds(v)
    if name.endswith("_drop"):
        return units.points(v)
    if "accuracy" in name or "agreement" in name or name.endswith("top5") or "sparsity" in name:
        return units.percent(v)
    if name == "macs":
        return units.count(v, "MACs")
    if name == "mac_per_s":
        return units.count(v, "MAC/s")
    if name.endswith("per_s"):
        return f"{units.count(v)}/s"
    if name == "cosine":
        return f"{v:.4f}"
    if name.endswith("_db"):
        return f"{v:.1f} dB"
    if name.endswith("_lsb"):
        return f"{v:.2f} LSB"
    if isinstance(v, int):
        return str(v) if name in ("seed", "index", "label") else f"{v:,}"
    return units.number(v)


def shorten(text: str, limit: int = LONGEST_CELL) -> str:
    """A cell that fits a line: long text is cut in the middle, where names differ least."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    return text[: keep - keep // 3] + "…" + text[len(text) - keep // 3:]
