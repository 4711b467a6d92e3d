"""Figures as a person reads them: a unit on every number, rounded to what it means.

Reports and terminal summaries use these; report.json keeps full precision."""
from __future__ import annotations

import math


def duration(ms: float | None) -> str:
    """A latency or a time given in ms: '5.8 µs', '13.6 µs', '1.25 ms', '2.4 s', '3 min 5 s'."""
    if ms is None or not math.isfinite(ms):
        return "–"
    if ms < 1:
        return f"{_three_figures(ms * 1e3)} µs"
    if ms < 1000:
        return f"{_three_figures(ms)} ms"
    return seconds(ms / 1e3)


def seconds(s: float | None) -> str:
    """A wall-clock time: '0.8 s', '42 s', '3 min 5 s', '1 h 2 min'."""
    if s is None or not math.isfinite(s):
        return "–"
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    minutes, rest = divmod(round(s), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def size(n: int | float | None) -> str:
    """Bytes: '512 B', '44.3 KB', '13.6 MB' (1 KB = 1024 B, as MCU datasheets count)."""
    if n is None:
        return "–"
    for unit, scale in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n):,} B"


def percent(fraction: float | None, digits: int = 2) -> str:
    """A share given as a fraction: 0.9778 -> '97.78%'."""
    return "–" if fraction is None else f"{fraction * 100:.{digits}f}%"


def points(fraction: float | None) -> str:
    """A difference of two shares, given as a fraction, in percentage points: 0.002778 -> '0.28 points'."""
    return "–" if fraction is None else f"{fraction * 100:.2f} points"


def count(n: int | float | None, unit: str = "") -> str:
    """Large counts with an SI prefix: 337536 MACs -> '338 k MACs'; small ones as they are."""
    if n is None:
        return "–"
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{_three_figures(n / scale)} {prefix}{unit}".rstrip()
    text = f"{n:,}" if isinstance(n, int) else _three_figures(n)
    return f"{text} {unit}".rstrip()


def number(value: float) -> str:
    """A figure without a known unit: four significant figures, no exponent for everyday sizes."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if 1e-3 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.3g}"


def threads(n: int | None) -> str:
    return "–" if n is None else f"{n} thread" + ("" if n == 1 else "s")


def _three_figures(value: float) -> str:
    """Three significant figures without an exponent: 13.59 -> '13.6', 137.4 -> '137', 5.781 -> '5.78'."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.2g}"
