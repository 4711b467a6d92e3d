"""CLI options generated from a step's config: one flag per setting, with the setting's help,
default, range and choices, so a command and a recipe cannot drift apart. The command gets
the settings it was given and builds the config with `config_from`."""
from __future__ import annotations

import typing
from dataclasses import MISSING, fields

import click

from ..settings import is_power_of_two, spec_of


def step_options(config_class, skip: tuple[str, ...] = ()):
    """A decorator adding one option per field of `config_class` (except `skip`)."""
    hints = typing.get_type_hints(config_class)
    options = [_option(f, hints[f.name]) for f in fields(config_class) if spec_of(f).cli and f.name not in skip]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def config_from(config_class, given: dict, **extra):
    """The config from the options the user gave (None: not given, so the config's default),
    popping them from `given`."""
    values = {f.name: given.pop(f.name) for f in fields(config_class) if f.name in given}
    values = {k: v for k, v in values.items() if v is not None and v != ()}
    return config_class(**values, **extra)


def flag_of(f) -> str:
    return spec_of(f).flag or "--" + f.name.replace("_", "-")


def _option(f, hint):
    spec = spec_of(f)
    default = None if f.default is MISSING else f.default
    shown = _shown_default(default)
    help_text = spec.help + (f"  [default: {shown}]" if shown else "")
    common = {"help": help_text, "default": None, "metavar": spec.metavar}
    if hint is bool:  # --flag, or --on/--off when the setting is on by default
        return click.option(*_declared(f), is_flag=True, default=bool(default), help=spec.help)
    if spec.multiple:
        return click.option(*_declared(f), multiple=True, callback=_parsed(spec.parse), **common)
    if spec.parse is not None:
        return click.option(*_declared(f), callback=_parsed(spec.parse), **common)
    return click.option(*_declared(f), type=_click_type(spec, hint), **common)


def _declared(f) -> tuple[str, str]:
    return flag_of(f), f.name


def _shown_default(default) -> str:
    if default in (None, "", {}) or isinstance(default, bool):
        return ""
    return str(default)


def _parsed(parse):
    def callback(ctx, param, value):
        if value is None or value == ():
            return None
        try:
            return parse(list(value) if isinstance(value, tuple) else value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
    return callback


def _click_type(spec, hint):
    base = _base(hint)
    if spec.choices is not None:
        if base is int:
            return _IntChoice(spec.choices)
        return click.Choice(list(spec.choices))
    if base is int:
        kind = _PowerOfTwo if spec.power_of_two else click.IntRange
        return kind(spec.low, spec.high, min_open=spec.open_low, max_open=spec.open_high)
    if base is float:
        return click.FloatRange(spec.low, spec.high, min_open=spec.open_low, max_open=spec.open_high)
    if base is typing.Any or base is str:
        return str
    return click.Path(path_type=base) if getattr(base, "__name__", "") in ("Path", "PosixPath") else str


def _base(hint):
    """The type of an optional setting (`float | None` -> float)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args and typing.get_origin(hint) is not tuple else hint


class _PowerOfTwo(click.IntRange):
    """An int range whose values must be powers of two (an alignment): a usage error naming the flag."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not is_power_of_two(number):
            self.fail(f"{number} is not a power of two (1, 2, 4, 8, 16, ...)", param, ctx)
        return number


class _IntChoice(click.Choice):
    """Whole-number choices (EdgeTPU runtime 13 or 14): shown and parsed as text, given as int."""

    def __init__(self, choices):
        super().__init__([str(c) for c in choices])

    def convert(self, value, param, ctx):
        return int(super().convert(str(value), param, ctx))
