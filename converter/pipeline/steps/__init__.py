"""The steps, one module each: a frozen config (the one definition of its settings, shared by
the recipe key and the CLI option) and `run(context, config)`. Importing this package never
imports TensorFlow: `run` imports its work when it runs.

To add a step: write `steps/<name>.py` with NAME, PHASE, CONFIG (its config class) and `run`, and list
it here (see docs/architecture.md)."""
from __future__ import annotations

from . import convert, distill, edgetpu, ethosu, explain, package, prune, qat, validate

# in the order a recipe may hold them; PHASE: "train" steps come before convert, "model" steps after it
MODULES = (distill, prune, qat, convert, validate, explain, edgetpu, ethosu, package)
STEPS = {m.NAME: m for m in MODULES}
CONFIGS = {m.NAME: m.CONFIG for m in MODULES}


def module_of(config):
    return next(m for m in MODULES if CONFIGS[m.NAME] is type(config))


def name_of(config) -> str:
    return module_of(config).NAME


def run(context, config, **extra):
    return module_of(config).run(context, config, **extra)
