"""Per-layer settings: one precedence rule, in one function.

A rule list maps layer-name regexes and layer types to a value; the value for a layer is the
first matching name rule, else its type's rule, else the global default.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LayerRules:
    default: object = None
    by_type: dict = field(default_factory=dict)  # class name -> value
    by_name: dict = field(default_factory=dict)  # regex (full match) -> value


def resolve(layer_name: str, layer_type: str, rules: LayerRules):
    """Name (regex) over type over global."""
    for pattern, value in rules.by_name.items():
        if re.fullmatch(pattern, layer_name):
            return value
    if layer_type in rules.by_type:
        return rules.by_type[layer_type]
    return rules.default
