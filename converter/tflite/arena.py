"""Tensor-arena estimate from the flatbuffer alone, planned the way tflite-micro plans it.

The arena has two ends. The head holds the activations: TFLM's AllocationInfoBuilder gives every
non-constant, non-variable tensor of every subgraph a lifetime on one timeline (a subgraph that
an IF / WHILE / CALL_ONCE runs is laid out inside its caller's step), adds the kernels' scratch
buffers, and its GreedyMemoryPlanner sorts the buffers by size (largest first) and places each
at the lowest 16-byte-aligned offset that does not overlap a live buffer. The tail holds what
persists (arena_tail.py). The arena a model needs is head + tail.
"""
from __future__ import annotations

from dataclasses import dataclass

from .layout import HOST64, MCU32, Abi
from .reader import ModelInfo, Subgraph

ALIGNMENT = 16


@dataclass(frozen=True)
class Buffer:
    tensor: int  # tensor index; scratch buffers get negative ids
    size: int
    first: int
    last: int
    subgraph: int = 0
    order: int = 0  # position in TFLM's AllocationInfo list: tensors by subgraph, then scratch buffers


@dataclass(frozen=True)
class ArenaPlan:
    arena_bytes: int  # planned size of the non-persistent tensors
    naive_bytes: int  # what giving every tensor its own space would cost
    offsets: dict[int, int]  # tensor index -> offset (main subgraph)


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _planned(sg: Subgraph, t: int) -> bool:
    info = sg.tensor(t)
    return not info.is_constant and not info.is_variable and info.nbytes > 0


class _Timeline:
    """Lifetimes as micro_allocation_info.cc MarkAllocationLifetimes assigns them."""

    def __init__(self, info: ModelInfo, scratch: dict[tuple[int, int], list[int]]):
        self.info, self.scratch, self.scope = info, scratch, 0
        self.first: dict[tuple[int, int], int] = {}
        self.last: dict[tuple[int, int], int] = {}
        self.sizes: dict[tuple[int, int], int] = {}
        self._active: list[int] = []

    def mark(self, s: int) -> None:
        if not 0 <= s < len(self.info.subgraphs) or s in self._active:
            return  # a corrupt or recursive call graph: TFLM would reject it
        self._active.append(s)
        sg = self.info.subgraphs[s]
        for t in sg.inputs:
            self._touch(s, t, True)
        for op in sg.operators:
            self.scope += 1
            for t in op.outputs:
                self.first.setdefault((s, t), self.scope)
            start = self.scope
            for callee in op.calls:
                self.scope += 1
                self.mark(callee)
            for t in (*op.inputs, *op.outputs):
                if t >= 0:
                    self._touch(s, t, False)
            for k, size in enumerate(self.scratch.get((s, op.index), ())):
                key = (s, -1 - (op.index * 16 + k))
                self.first[key], self.last[key], self.sizes[key] = start, self.scope, size
        for t in sg.outputs:
            self._touch(s, t, True)
        self._active.pop()

    def _touch(self, s: int, t: int, create: bool) -> None:
        if create:
            self.first.setdefault((s, t), self.scope)
        self.last[(s, t)] = self.scope

    def buffers(self) -> list[Buffer]:
        offsets = [0]
        for sg in self.info.subgraphs:
            offsets.append(offsets[-1] + len(sg.tensors))
        scratch = sorted((k for k in self.first if k[1] < 0), key=lambda k: (k[0], -1 - k[1]))
        order = {k: offsets[-1] + n for n, k in enumerate(scratch)}
        out = []
        for (s, t), start in self.first.items():
            sg = self.info.subgraphs[s]
            if t < 0:
                size = self.sizes[(s, t)]
            elif _planned(sg, t):
                size = sg.tensor(t).nbytes
            else:
                continue
            out.append(Buffer(t, _align(size), start, self.last[(s, t)], s, order.get((s, t), offsets[s] + t)))
        return out


def lifetimes(sg: Subgraph) -> list[Buffer]:
    """Lifetimes of one subgraph's planned tensors, on its own timeline."""
    timeline = _Timeline(ModelInfo(0, 3, "", (sg,)), {})
    timeline.mark(0)
    return timeline.buffers()


def place(buffers: list[Buffer]) -> tuple[int, dict[Buffer, int]]:
    """GreedyMemoryPlanner: largest first (equal sizes in reverse insertion order, as its
    tail-first fill and stable sort leave them), each at the lowest offset free for its lifetime."""
    placed: list[tuple[int, Buffer]] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, -b.order)):
        live = sorted(((off, b) for off, b in placed if b.first <= buf.last and buf.first <= b.last),
                      key=lambda p: p[0])
        offset = 0
        for off, other in live:
            if offset + buf.size <= off:
                break
            offset = max(offset, off + other.size)
        placed.append((offset, buf))
    return max((off + b.size for off, b in placed), default=0), {b: off for off, b in placed}


def plan(sg: Subgraph) -> ArenaPlan:
    buffers = lifetimes(sg)
    size, offsets = place(buffers)
    return ArenaPlan(size, sum(b.size for b in buffers), {b.tensor: off for b, off in offsets.items()})


def plan_model(info: ModelInfo) -> ArenaPlan:
    """The head of the whole model: every subgraph reachable from the main one, plus the
    scratch buffers kernels request in Prepare."""
    from .arena_tail import scratch_requests

    timeline = _Timeline(info, scratch_requests(info))
    timeline.mark(0)
    buffers = timeline.buffers()
    size, offsets = place(buffers)
    return ArenaPlan(size, sum(b.size for b in buffers),
                     {b.tensor: off for b, off in offsets.items() if b.subgraph == 0 and b.tensor >= 0})


@dataclass(frozen=True)
class ArenaEstimate:
    head: int  # activations and scratch buffers (word size does not matter)
    tail: int  # persistent: structs, op data, variables, allocator objects
    word_bits: int
    abi: str
    unknown_ops: tuple[str, ...] = ()  # ops whose persistent data is assumed, not transcribed

    @property
    def total(self) -> int:
        return self.head + self.tail

    def to_dict(self) -> dict:
        return {"head_bytes": self.head, "tail_bytes": self.tail, "total_bytes": self.total,
                "word_bits": self.word_bits, "assumes": self.abi, "unknown_ops": list(self.unknown_ops)}


def estimate(info: ModelInfo, abi: Abi = MCU32) -> ArenaEstimate:
    from .arena_tail import tail_bytes

    tail, unknown = tail_bytes(info, abi)
    return ArenaEstimate(plan_model(info).arena_bytes, tail, abi.bits, abi.name, unknown)


def estimates(info: ModelInfo) -> dict[str, ArenaEstimate]:
    """Both word sizes: 32-bit sizes a microcontroller, 64-bit is what this host measures."""
    return {"32": estimate(info, MCU32), "64": estimate(info, HOST64)}


def arena_figures(info: ModelInfo) -> dict:
    """The arena figures every session and report carries: the 32-bit total sizes a
    microcontroller's arena (`arena_estimate_bytes`), both word sizes in detail."""
    both = estimates(info)
    return {"arena_estimate_bytes": both["32"].total,
            "arena_estimate": {f"{bits}bit": e.to_dict() for bits, e in both.items()}}
