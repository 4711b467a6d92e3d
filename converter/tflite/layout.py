"""C struct layout (sizeof, alignof) for a word size, so tflite-micro's structs can be sized for
this 64-bit host and for a 32-bit Cortex-M from one field list.

Field codes: 'b' bool/int8/uint8, 'h' int16, 'i' int32/int/float/enum, 'q' int64/double,
'p' pointer/size_t/intptr_t, 'v' a vtable pointer. A field may also be a (code, count) array or
a nested Struct. int64 and double align to 8 on both x86-64 and ARM (AAPCS).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Abi:
    name: str
    word: int  # bytes in a pointer / size_t
    compression: bool  # built with USE_TFLM_COMPRESSION (adds fields to some structs)
    recording: bool  # RecordingMicroAllocator (the Python wheel) rather than MicroAllocator

    @property
    def bits(self) -> int:
        return self.word * 8


# The Python wheel (tflite_micro, what we measure with) is built with compression support and
# uses the recording allocator; a firmware build by default has neither.
HOST64 = Abi("64-bit host (x86-64, tflite-micro Python wheel)", 8, compression=True, recording=True)
MCU32 = Abi("32-bit MCU (Cortex-M, MicroAllocator)", 4, compression=False, recording=False)


@dataclass(frozen=True)
class Struct:
    name: str
    fields: tuple  # codes, (code, count) arrays or nested Structs

    def _members(self, abi: Abi):
        for f in self.fields:
            if isinstance(f, Struct):
                yield f.size(abi), f.align(abi)
            else:
                code, count = f if isinstance(f, tuple) else (f, 1)
                size = {"b": 1, "h": 2, "i": 4, "q": 8, "p": abi.word, "v": abi.word}[code]
                yield size * count, size

    def align(self, abi: Abi) -> int:
        return max((a for _, a in self._members(abi)), default=1)

    def size(self, abi: Abi) -> int:
        offset = 0
        for size, align in self._members(abi):
            offset = _round_up(offset, align) + size
        return _round_up(offset, self.align(abi))

    def extend(self, name: str, *fields) -> Struct:
        """A derived class: base members first, then its own (no tail-padding reuse needed
        for the classes sized here)."""
        return Struct(name, (*self.fields, *fields))


def _round_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a
