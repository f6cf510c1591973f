"""Where message copies live inside a container's linear memory (spec 3.3).

Containers built by our SDK export ``malloc``/``free``: the host allocates copies through them while
the guest is inside ``ocre_get_event`` (re-entrant calls through the caller, never from another
thread). Modules without those exports get one host-owned page appended before ``_start``, managed
here first-fit. Modules whose memory cannot grow (min = max, no allocator) get no region: deliveries
to them are skipped and logged.
"""

from __future__ import annotations

import bisect

import wasmtime

from ocre_py.runtime.guestmem import Ctx, offset


class GuestAllocator:
    """Base: allocate/free inside guest memory; ``alloc`` returns 0 on failure."""

    description = "none"

    def alloc(self, ctx: Ctx, size: int) -> int:
        return 0

    def free(self, ctx: Ctx, ptr: int) -> None:
        return None


class ExportedAllocator(GuestAllocator):
    description = "guest malloc/free"

    def __init__(self, malloc: wasmtime.Func, free: wasmtime.Func) -> None:
        self._malloc, self._free = malloc, free

    def alloc(self, ctx: Ctx, size: int) -> int:
        return offset(self._malloc(ctx, size))

    def free(self, ctx: Ctx, ptr: int) -> None:
        self._free(ctx, ptr)


class RegionAllocator(GuestAllocator):
    """First-fit over ``[start, start+size)``, 8-byte aligned, coalescing on free."""

    description = "host page"

    def __init__(self, start: int, size: int) -> None:
        self._free_list: list[tuple[int, int]] = [(start, size)]  # sorted (offset, length)
        self._used: dict[int, int] = {}

    def alloc(self, ctx: Ctx, size: int) -> int:
        need = max(8, (size + 7) & ~7)
        for i, (off, length) in enumerate(self._free_list):
            if length >= need:
                if length == need:
                    del self._free_list[i]
                else:
                    self._free_list[i] = (off + need, length - need)
                self._used[off] = need
                return off
        return 0

    def free(self, ctx: Ctx, ptr: int) -> None:
        length = self._used.pop(ptr, None)
        if length is None:
            return
        i = bisect.bisect(self._free_list, (ptr, length))
        self._free_list.insert(i, (ptr, length))
        merged: list[tuple[int, int]] = []
        for off, ln in self._free_list:
            if merged and merged[-1][0] + merged[-1][1] == off:
                merged[-1] = (merged[-1][0], merged[-1][1] + ln)
            else:
                merged.append((off, ln))
        self._free_list = merged

    @property
    def available(self) -> int:
        return sum(length for _, length in self._free_list)
