"""The cheap figures of a trial before any training: flash and arena depend on the model's
structure and the quantization mode, not on its trained weights. So the final architecture
(the distillation student as built, the channel-pruned model right after surgery; unstructured
pruning and QAT change no shape) is converted untrained, with a few calibration samples, and
measured, and on ethosu compiled by Vela for its latency estimate. A trial whose structure
cannot fit its flash, arena (or estimated latency) budget stops here.

Mixed int8/int16 recovery can only add int16 tensors, so the int8 figures are its lower bound."""
from __future__ import annotations

from dataclasses import replace

from ..pipeline.context import Context
from ..pipeline.steps import name_of
from ..report import Report
from .objectives import cheap_figures, vela_latency

SAMPLES = 16  # calibration values do not change the file's size or the arena's


def preflight(context: Context, recipe, vela: bool = False) -> dict:
    """{arena_kb, arena_source, flash_kb} of the trial's final structure, untrained; with `vela`
    also latency_ms, Vela's estimate for the recipe's ethosu step (it depends on the layers'
    shapes; untrained weights compress a little differently, so it is an estimate of one)."""
    from ..tflite.kind import kind_of
    from ..verify.figures import arena_stage

    tflite = structure_tflite(context, recipe)
    scratch = Report("preflight")
    arena_stage(tflite, scratch)
    kind = kind_of(tflite)
    scratch.add_model("size", kind, bytes=len(tflite))
    found = cheap_figures(scratch, kind)
    if vela:
        from ..targets.ethosu import compile_for_npu

        found.update(vela_latency(compile_for_npu(tflite, recipe.stage("ethosu").accelerator)[0]))
    return found


def structure_tflite(context: Context, recipe) -> bytes:
    from ..export.tflite import convert

    model = context.model
    for config in recipe.stages:
        step = name_of(config)
        if step == "distill":
            from ..pipeline.steps.distill import student_model

            model = student_model(context, config)
        elif step == "prune" and config.structured:
            model = _surgery(model, context, config)
        elif step == "convert":
            options = replace(config.options(context.seed), samples=min(config.samples, SAMPLES), calibration="minmax")
            return convert(model, context.calibration, options, None, context.preprocess).tflite
    raise AssertionError("every recipe converts")  # Recipe checks it at load time


def _surgery(model, context: Context, config):
    from ..optimize.structured import ChannelOptions, prune_channels

    options = ChannelOptions(ratio=0.5 if config.channels is None else config.channels, target_macs=config.target_macs,
                             importance=config.importance, round_to=config.round_to, overrides=config.layers,
                             train=None)
    return prune_channels(model, context.calibration, options).model
