"""What a module looks like to WAMR's loader on a small target: will it shrink its linear memory?

A Cortex-M3 with 64 KB of RAM cannot give a container a whole 64 KiB wasm page. WAMR's loader can
shrink it to ``align8(__heap_base)`` bytes under conditions checked here against WAMR 2.4.3
``wasm_loader.c`` (see :mod:`ocre_py.sdk.tiny`, which builds modules that meet them). The SDK uses
this after ``ocre build --tiny`` and the tiny profile (:mod:`ocre_py.zephyr.tiny`) before it packs a
bundle; which imports a firmware serves is the profile's business, not the module's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocre_py.errors import BuildError, ImageError
from ocre_py.image.wasm import CodeFacts, WasmReader, scan_code

PAGE = 65536
KIB = 1024


@dataclass(frozen=True)
class TinyModule:
    """What the tiny profile needs to know about one module."""

    source: str
    size: int
    functions: int
    imports: tuple[tuple[str, str], ...]
    exports: tuple[str, ...]
    types: int
    globals: int
    memory_pages: int  # declared initial pages (imported or defined)
    memory_max_pages: int | None
    heap_base: int | None
    data_end: int | None
    stack_pointer: int | None
    code: CodeFacts

    @property
    def grows_memory(self) -> bool:
        return self.code.grows_memory

    @property
    def shrinkable(self) -> bool:
        """WAMR's condition (wasm_loader.c): both exports, align16(__data_end) ≤ __heap_base (else WAMR
        resolves no aux stack and skips the shrink), no memory.grow/size, and the shrunk size within
        the initial memory. The shadow-stack global is optional: without it WAMR uses __heap_base."""
        return (
            not self.grows_memory
            and self.heap_base is not None
            and self.data_end is not None
            and self.data_end <= self.heap_base
            and (self.heap_base + 7) // 8 * 8 <= self.memory_pages * PAGE
        )

    @property
    def linear_memory(self) -> int:
        """Bytes of linear memory WAMR allocates: align8(__heap_base) when shrunk, else whole pages
        (up to the declared maximum when the module can grow; unbounded growth counts 65536 pages)."""
        if self.shrinkable:
            assert self.heap_base is not None
            return (self.heap_base + 7) // 8 * 8
        if self.grows_memory:
            return max(self.memory_pages, self.memory_max_pages or 65536) * PAGE
        return self.memory_pages * PAGE

    def wamr_ram(self, wasm_stack: int) -> int:
        """Pool bytes to load and run this module [estimate of WAMR 2.4.3 classic-interpreter structures].

        The module bytes are copied to RAM first: the classic interpreter rewrites opcodes in place
        (``*p_org = EXT_OP_BLOCK + ...`` in wasm_loader.c), so it cannot run from flash.
        """
        loader = 2 * KIB + 96 * self.functions + 48 * len(self.imports) + 32 * len(self.exports)
        loader += 32 * self.types + 24 * self.globals
        instance = 1 * KIB + 32 * self.functions + 2 * KIB  # instance, function instances, exec env
        return self.size + loader + instance + self.linear_memory + wasm_stack

    def require_shrinkable(self) -> TinyModule:
        if self.grows_memory:
            raise BuildError(
                f"{self.source}: uses memory.grow/memory.size, so WAMR cannot shrink its memory "
                f"({self.linear_memory} bytes at most): too big for a tiny target",
                hint="build with 'ocre build --tiny' (its allocator never grows memory) and avoid sbrk",
            )
        if not self.shrinkable:
            missing = [
                n for n, v in (("__heap_base", self.heap_base), ("__data_end", self.data_end)) if v is None
            ]
            why = f"exports {', '.join(missing)} missing" if missing else "__data_end is above __heap_base"
            raise BuildError(
                f"{self.source}: WAMR cannot shrink its linear memory ({why})",
                hint="link with -Wl,--export=__heap_base -Wl,--export=__data_end (ocre build --tiny)",
            )
        return self


class _R(WasmReader):
    problem = "cannot analyse wasm module"

    def __init__(self, data: bytes, pos: int, end: int, source: str) -> None:
        super().__init__(data, source, pos=pos, end=end)


def analyse_module(data: bytes, *, source: str = "module") -> TinyModule:
    """Parse ``data`` as far as the tiny profile needs (see :class:`TinyModule`)."""
    if data[:8] != b"\0asm\x01\0\0\0":
        raise ImageError(f"{source}: not a wasm v1 module", hint="the tiny profile runs .wasm only (no AOT)")
    r = _R(data, 8, len(data), source)
    types = functions = import_globals = 0
    imports: list[tuple[str, str]] = []
    exports: list[tuple[str, int, int]] = []
    globals_: list[tuple[bool, int | None]] = []
    pages, max_pages = 0, None
    while r.pos < r.end:
        sid = r.byte()
        size = r.uleb()
        body = _R(data, r.pos, r.pos + size, source)
        r.skip(size)
        if sid == 1:
            types = body.uleb()
        elif sid == 2:
            for _ in range(body.uleb()):
                mod, name, kind = body.name(), body.name(), body.byte()
                if kind == 0:
                    body.uleb()
                    imports.append((mod, name))
                elif kind == 1:
                    body.byte()
                    body.limits()
                elif kind == 2:
                    lim = body.limits()
                    pages, max_pages = lim.minimum, lim.maximum
                elif kind == 3:
                    body.byte()
                    body.byte()
                    import_globals += 1
                else:
                    raise body.fail(f"import kind {kind}")
        elif sid == 3:
            functions = body.uleb()
        elif sid == 5 and body.uleb():
            lim = body.limits()
            pages, max_pages = lim.minimum, lim.maximum
        elif sid == 6:
            for _ in range(body.uleb()):
                body.byte()
                mutable = body.byte() == 1
                globals_.append((mutable, body.const_i32()))
        elif sid == 7:
            for _ in range(body.uleb()):
                name, kind, index = body.name(), body.byte(), body.uleb()
                exports.append((name, kind, index))

    def exported_const(name: str) -> int | None:
        for ename, kind, index in exports:
            if ename == name and kind == 3 and index >= import_globals:
                mutable, value = globals_[index - import_globals]
                return None if mutable else value
        return None

    heap_base, data_end = exported_const("__heap_base"), exported_const("__data_end")
    stack = None
    if heap_base is not None:
        stack = next((v for m, v in globals_ if m and v is not None and v <= heap_base), None)
    return TinyModule(
        source=source,
        size=len(data),
        functions=functions,
        imports=tuple(imports),
        exports=tuple(n for n, _, _ in exports),
        types=types,
        globals=len(globals_),
        memory_pages=pages,
        memory_max_pages=max_pages,
        heap_base=heap_base,
        data_end=None if data_end is None else (data_end + 15) // 16 * 16,
        stack_pointer=stack,
        code=scan_code(data, source=source),
    )
