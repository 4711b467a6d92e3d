"""Tensor-arena estimate from the flatbuffer alone, planned the way tflite-micro plans it.

TFLM's GreedyMemoryPlanner gives every non-constant tensor of a subgraph a lifetime (first
and last operator that touches it), sorts the buffers by size (largest first) and places each
at the lowest 16-byte-aligned offset that does not overlap a live buffer. The arena needed is
the highest end offset. Runtime bookkeeping (TFLM's persistent allocations) comes on top.
"""
from __future__ import annotations

from dataclasses import dataclass

from .reader import Subgraph

ALIGNMENT = 16


@dataclass(frozen=True)
class Buffer:
    tensor: int
    size: int
    first: int
    last: int


@dataclass(frozen=True)
class ArenaPlan:
    arena_bytes: int  # planned size of the non-persistent tensors
    naive_bytes: int  # what giving every tensor its own space would cost
    offsets: dict[int, int]  # tensor index -> offset


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def lifetimes(sg: Subgraph) -> list[Buffer]:
    """Lifetime of every tensor the arena must hold; graph inputs live from the start,
    graph outputs to the end, variables through the whole run."""
    last_op = max(len(sg.operators) - 1, 0)
    first: dict[int, int] = {i: 0 for i in sg.inputs}
    last: dict[int, int] = {i: last_op for i in sg.outputs}
    for op in sg.operators:
        for t in op.outputs:
            first.setdefault(t, op.index)
            last[t] = max(last.get(t, op.index), op.index)
        for t in op.inputs:
            if t >= 0:
                first.setdefault(t, op.index)
                last[t] = max(last.get(t, op.index), op.index)
    buffers = []
    for t, start in first.items():
        info = sg.tensor(t)
        if info.is_constant:
            continue
        if info.is_variable:
            start, end = 0, last_op
        else:
            end = last.get(t, start)
        buffers.append(Buffer(t, _align(info.nbytes), start, end))
    return buffers


def plan(sg: Subgraph) -> ArenaPlan:
    buffers = sorted(lifetimes(sg), key=lambda b: (-b.size, b.tensor))
    placed: list[tuple[int, Buffer]] = []
    for buf in buffers:
        live = sorted(((off, b) for off, b in placed if b.first <= buf.last and buf.first <= b.last),
                      key=lambda p: p[0])
        offset = 0
        for off, other in live:
            if offset + buf.size <= off:
                break
            offset = max(offset, off + other.size)
        placed.append((offset, buf))
    arena = max((off + b.size for off, b in placed), default=0)
    return ArenaPlan(arena, sum(b.size for b in buffers), {b.tensor: off for off, b in placed})
