"""Bounds-checked access to a container's linear memory from host functions (spec 2.1).

A pointer whose first byte lies outside memory traps, as WAMR does; an object that starts inside
but runs past the end is the host function's ``-EINVAL``. Guest pointers arrive as signed i32 and
are reinterpreted as unsigned offsets.
"""

from __future__ import annotations

import struct

import wasmtime

Ctx = wasmtime.Caller | wasmtime.Store


class GuestTrap(Exception):
    """Raised inside a host function to trap the calling container with a message."""


def offset(value: int) -> int:
    return value & 0xFFFFFFFF


class GuestMemory:
    def __init__(self, memory: wasmtime.Memory) -> None:
        self.memory = memory

    def size(self, ctx: Ctx) -> int:
        return self.memory.data_len(ctx)

    def check(self, ctx: Ctx, ptr: int, what: str = "pointer") -> int:
        """Trap unless the first byte at ``ptr`` is inside memory; return the unsigned offset."""
        ptr = offset(ptr)
        if ptr >= self.size(ctx):
            raise GuestTrap(f"out of bounds memory access: {what} {ptr:#x}")
        return ptr

    def fits(self, ctx: Ctx, ptr: int, length: int) -> bool:
        ptr = offset(ptr)
        return length >= 0 and ptr + length <= self.size(ctx)

    def read(self, ctx: Ctx, ptr: int, length: int) -> bytes:
        ptr = offset(ptr)
        return bytes(self.memory.read(ctx, ptr, ptr + length))

    def write(self, ctx: Ctx, ptr: int, data: bytes) -> None:
        self.memory.write(ctx, data, offset(ptr))

    def cstr(self, ctx: Ctx, ptr: int, what: str = "string") -> bytes:
        """A NUL-terminated string; traps if it starts or ends outside memory (WAMR's ``$`` check)."""
        ptr = self.check(ctx, ptr, what)
        size = self.size(ctx)
        chunk, start, parts = 256, ptr, []
        while start < size:
            data = self.memory.read(ctx, start, min(start + chunk, size))
            nul = data.find(0)
            if nul >= 0:
                parts.append(bytes(data[:nul]))
                return b"".join(parts)
            parts.append(bytes(data))
            start += len(data)
            chunk *= 4
        raise GuestTrap(f"out of bounds memory access: {what} at {ptr:#x} is not NUL-terminated")

    def write_u32s(self, ctx: Ctx, pairs: list[tuple[int, int]]) -> None:
        for ptr, value in pairs:
            self.memory.write(ctx, struct.pack("<I", value & 0xFFFFFFFF), offset(ptr))
