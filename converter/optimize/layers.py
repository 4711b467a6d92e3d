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


def check_patterns(patterns, layer_names=None) -> None:
    """Each layer-name regex compiles and, given the model's layer names, matches one of them
    (a rule that matches nothing is a typo that would silently do nothing)."""
    from ..errors import InputError

    for pattern in patterns:
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise InputError(f"layer pattern '{pattern}' is not a valid regular expression: {e}",
                             hint="escape special characters, e.g. 'dense\\[1\\]' or 'conv.*'") from None
        if layer_names is not None and not any(compiled.fullmatch(n) for n in layer_names):
            raise InputError(f"layer pattern '{pattern}' matches no layer of the model",
                             hint=f"the pattern must match a whole name; layers: {', '.join(layer_names)}")


def resolve(layer_name: str, layer_type: str, rules: LayerRules):
    """Name (regex) over type over global."""
    for pattern, value in rules.by_name.items():
        if re.fullmatch(pattern, layer_name):
            return value
    if layer_type in rules.by_type:
        return rules.by_type[layer_type]
    return rules.default
