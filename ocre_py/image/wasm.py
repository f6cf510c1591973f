"""A small reader of the WebAssembly binary format: imports, exports, memory limits, and which
instructions the code uses.

The image room must work where no wasm engine is installed (the Zephyr side imports it and never
loads wasmtime), so this parses just what it needs straight from the bytes. It also recognises WAMR
AOT files by their magic so AOT layers can be stored without being parsed. :func:`scan_code` walks
the code section so a module can be checked against what a WAMR build's loader accepts
(:mod:`ocre_py.image.wamr`) before it reaches a board.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ocre_py.errors import ImageError

log = logging.getLogger(__name__)

WASM_MAGIC = b"\0asm"
AOT_MAGIC = b"\0aot"
PAGE = 65536
_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
_TYPE_SECTION, _IMPORT_SECTION, _MEMORY_SECTION, _EXPORT_SECTION, _CODE_SECTION = 1, 2, 5, 7, 10
_VALTYPES = {
    0x7F: "i32",
    0x7E: "i64",
    0x7D: "f32",
    0x7C: "f64",
    0x7B: "v128",
    0x70: "funcref",
    0x6F: "externref",
}


@dataclass(frozen=True)
class MemoryLimits:
    """Memory limits in 64 KiB pages; ``maximum`` is None when the module declares none."""

    minimum: int
    maximum: int | None

    @property
    def min_bytes(self) -> int:
        return self.minimum * PAGE

    @property
    def max_bytes(self) -> int | None:
        return None if self.maximum is None else self.maximum * PAGE


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str
    signature: str = ""  # "(i32,i32)->i32" for functions
    memory: MemoryLimits | None = None

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class WasmModule:
    """What the image room needs to know about a core module."""

    imports: tuple[Import, ...] = ()
    exports: tuple[tuple[str, str], ...] = ()  # (name, kind)
    memory: MemoryLimits | None = None
    memory_imported: bool = False
    size: int = 0
    export_names: frozenset[str] = field(default_factory=frozenset)

    @property
    def function_imports(self) -> tuple[Import, ...]:
        return tuple(i for i in self.imports if i.kind == "func")


def is_aot(data: bytes) -> bool:
    return data[:4] == AOT_MAGIC


class WasmReader:
    """Bounds-checked reads of the wasm binary encoding over ``data[pos:end]``.

    Shared by the module reader here and the tiny profile's code analysis (``zephyr/tiny.py``); every
    read past ``end`` raises :class:`ImageError` naming ``source``, the problem and the byte offset.
    """

    #: How a failure starts; subclasses say what they were doing.
    problem = "not a valid wasm module"

    def __init__(self, data: bytes, source: str, *, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.source = data, pos, source
        self.end = len(data) if end is None else end

    def fail(self, what: str) -> ImageError:
        return ImageError(f"{self.source}: {self.problem}: {what} at byte {self.pos}")

    def byte(self) -> int:
        if self.pos >= self.end:
            raise self.fail("unexpected end of data")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise self.fail("LEB128 integer too long")

    def sleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result - (1 << shift) if b & 0x40 else result
            if shift > 70:
                raise self.fail("LEB128 integer too long")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise self.fail("section or string runs past the end")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def skip(self, n: int) -> None:
        self.take(n)

    def name(self) -> str:
        raw = self.take(self.uleb())
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise self.fail("name is not UTF-8") from None

    def const_i32(self) -> int | None:
        """A constant (init) expression: its value if it is exactly ``i32.const N; end``, else None
        (read to its ``end`` with the same immediate rules as the code scan)."""
        op = self.byte()
        if op == 0x41:
            value = self.sleb() & 0xFFFFFFFF
            op = self.byte()
            if op == 0x0B:
                return value
            _skip_const_immediates(self, op)
            op = self.byte()
        while op != 0x0B:
            _skip_const_immediates(self, op)
            op = self.byte()
        return None

    def limits(self) -> MemoryLimits:
        flags = self.byte()
        minimum = self.uleb()
        maximum = self.uleb() if flags & 1 else None
        return MemoryLimits(minimum, maximum)


def _valtypes(r: WasmReader) -> str:
    return ",".join(_VALTYPES.get(r.byte(), "?") for _ in range(r.uleb()))


def parse_module(data: bytes, *, source: str = "module") -> WasmModule:
    """Parse ``data`` (a core wasm binary); raise :class:`ImageError` naming ``source`` if it is not one."""
    if data[:4] != WASM_MAGIC:
        if is_aot(data):
            raise ImageError(f"{source}: is a WAMR AOT file, not a wasm module", hint="use an AOT layer")
        raise ImageError(f"{source}: not a wasm module (no \\0asm magic)")
    if data[4:8] != b"\x01\0\0\0":
        raise ImageError(f"{source}: unsupported wasm binary version {data[4:8].hex()} (expected 01000000)")
    r = WasmReader(data, source)
    r.pos = 8
    types: list[str] = []
    imports: list[Import] = []
    exports: list[tuple[str, str]] = []
    memory: MemoryLimits | None = None
    imported = False
    while r.pos < len(data):
        section_id = r.byte()
        body = WasmReader(r.take(r.uleb()), source)
        if section_id == _TYPE_SECTION:
            for _ in range(body.uleb()):
                if body.byte() != 0x60:
                    raise r.fail("bad function type")
                params = _valtypes(body)
                types.append(f"({params})->{_valtypes(body)}")
        elif section_id == _IMPORT_SECTION:
            for _ in range(body.uleb()):
                module, name, kind = body.name(), body.name(), body.byte()
                if kind == 0:
                    index = body.uleb()
                    sig = types[index] if index < len(types) else "?"
                    imports.append(Import(module, name, "func", sig))
                elif kind == 1:
                    body.byte()
                    body.limits()
                    imports.append(Import(module, name, "table"))
                elif kind == 2:
                    lim = body.limits()
                    memory, imported = lim, True
                    imports.append(Import(module, name, "memory", memory=lim))
                elif kind == 3:
                    body.take(2)
                    imports.append(Import(module, name, "global"))
                elif kind == 4:
                    body.byte()
                    body.uleb()
                    imports.append(Import(module, name, "tag"))
                else:
                    raise r.fail(f"unknown import kind {kind}")
        elif section_id == _MEMORY_SECTION:
            if body.uleb() and memory is None:
                memory = body.limits()
        elif section_id == _EXPORT_SECTION:
            for _ in range(body.uleb()):
                name, kind = body.name(), body.byte()
                body.uleb()
                exports.append((name, _KINDS.get(kind, "?")))
        elif section_id > 13 and section_id != 0:
            raise r.fail(f"unknown section id {section_id}")
    return WasmModule(
        imports=tuple(imports),
        exports=tuple(exports),
        memory=memory,
        memory_imported=imported,
        size=len(data),
        export_names=frozenset(n for n, _ in exports),
    )


# --------------------------------------------------------------------------------------------------
# Code section: which instructions a module uses (what a WAMR build must support to load it)
# --------------------------------------------------------------------------------------------------
#: Proposal names, as WAMR's ``WAMR_BUILD_*`` options know them (:mod:`ocre_py.image.wamr`).
REF_TYPES, BULK_MEMORY, SIMD, THREADS = "reference-types", "bulk-memory", "simd", "threads"
TAIL_CALL, EXCEPTIONS, GC = "tail-call", "exception-handling", "gc"

_NO_IMM = frozenset([0x00, 0x01, 0x05, 0x0B, 0x0F, 0x1A, 0x1B, 0xD1, *range(0x45, 0xC5)])
_ONE_ULEB = frozenset([0x0C, 0x0D, 0x10, 0x12, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xD2])
#: 0xFC sub-opcodes: (immediates, proposal). 0-7 are the saturating conversions every WAMR serves.
_FC_OPS: dict[int, tuple[int, str | None]] = {
    **{i: (0, None) for i in range(8)},
    8: (2, BULK_MEMORY),
    9: (1, BULK_MEMORY),
    10: (2, BULK_MEMORY),
    11: (1, BULK_MEMORY),
    12: (2, BULK_MEMORY),
    13: (1, BULK_MEMORY),
    14: (2, BULK_MEMORY),
    15: (1, REF_TYPES),
    16: (1, REF_TYPES),
    17: (1, REF_TYPES),
}
_PREFIXED = {0xFB: GC, 0xFD: SIMD, 0xFE: THREADS}
_BLOCK_TYPES = frozenset([0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F])


@dataclass(frozen=True)
class CodeFacts:
    """What a module's function bodies use, as far as a WAMR loader's acceptance depends on it.

    ``padded_table_index`` counts ``call_indirect`` instructions whose table index is a padded
    (over-long) LEB128, as wasm-ld leaves relocations unless linked with ``--compress-relocations``:
    WAMR's loader reads that byte as a plain ``0x00`` unless built with
    ``WAMR_BUILD_CALL_INDIRECT_OVERLONG`` (or reference types), and refuses the module otherwise.
    """

    grows_memory: bool = False
    padded_table_index: int = 0
    proposals: frozenset[str] = frozenset()


#: Instructions allowed in constant expressions that carry immediates (MVP, reference types).
_CONST_OPS = frozenset([0x41, 0x42, 0x43, 0x44, 0xD0])


def _skip_const_immediates(r: WasmReader, op: int) -> None:
    """Skip the immediates of ``op`` as met in a constant expression (and in code)."""
    if op in (0x41, 0x42):
        r.sleb()
    elif op in (0x23, 0xD2):
        r.uleb()
    elif op == 0x43:
        r.skip(4)
    elif op == 0x44:
        r.skip(8)
    elif op == 0xD0:
        r.byte()


def encode_uleb(n: int) -> bytes:
    """``n`` as unsigned LEB128 (the shortest form): for writing sections, as tests and tools do."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _skip_block_type(r: WasmReader) -> None:
    if r.pos < r.end and r.data[r.pos] in _BLOCK_TYPES:
        r.pos += 1
    else:
        r.sleb()  # a type index (multi-value)


def _scan_body(r: WasmReader, used: set[str]) -> tuple[bool, int]:
    """Walk one function body's instructions: (uses memory.size/grow, padded call_indirect count)."""
    grows, padded = False, 0
    while r.pos < r.end:
        op = r.byte()
        if op in _NO_IMM:
            continue
        if op in _ONE_ULEB:
            r.uleb()
            if op in (0x25, 0x26, 0xD2):
                used.add(REF_TYPES)
            elif op == 0x12:
                used.add(TAIL_CALL)
        elif op in (0x02, 0x03, 0x04):
            _skip_block_type(r)
        elif op == 0x0E:
            for _ in range(r.uleb() + 1):
                r.uleb()
        elif op in (0x11, 0x13):
            r.uleb()
            start = r.pos
            if r.uleb():
                used.add(REF_TYPES)  # a second table
            if r.pos - start > 1:
                padded += 1
            if op == 0x13:
                used.add(TAIL_CALL)
        elif op == 0x1C:
            r.skip(r.uleb())
            used.add(REF_TYPES)
        elif 0x28 <= op <= 0x3E:
            if r.uleb() & 0x40:  # multi-memory: an explicit memory index
                r.uleb()
            r.uleb()
        elif op in (0x3F, 0x40):
            r.uleb()
            grows = True
        elif op in _CONST_OPS:
            _skip_const_immediates(r, op)
            if op == 0xD0:
                used.add(REF_TYPES)
        elif op == 0xFC:
            sub = r.uleb()
            if sub not in _FC_OPS:
                raise r.fail(f"unknown 0xFC opcode {sub}")
            count, proposal = _FC_OPS[sub]
            for _ in range(count):
                r.uleb()
            if proposal:
                used.add(proposal)
        elif op in _PREFIXED:
            # SIMD, atomics, GC: their immediates are not walked; loading needs the proposal anyway.
            used.add(_PREFIXED[op])
            r.pos = r.end
        elif op in (0x06, 0x07, 0x08, 0x09, 0x18, 0x19):
            used.add(EXCEPTIONS)
            r.pos = r.end
        else:
            raise r.fail(f"unknown opcode 0x{op:02x}")
    return grows, padded


def scan_code(data: bytes, *, source: str = "module") -> CodeFacts:
    """The :class:`CodeFacts` of a wasm module (raises :class:`ImageError` if it is not one)."""
    if data[:8] != WASM_MAGIC + b"\x01\0\0\0":
        raise ImageError(f"{source}: not a wasm v1 module")
    r = WasmReader(data, source, pos=8)
    used: set[str] = set()
    grows, padded = False, 0
    while r.pos < r.end:
        section_id, size = r.byte(), r.uleb()
        start = r.pos
        r.skip(size)
        if section_id != _CODE_SECTION:
            continue
        body = WasmReader(data, source, pos=start, end=start + size)
        for _ in range(body.uleb()):
            fsize = body.uleb()
            fn = WasmReader(data, source, pos=body.pos, end=body.pos + fsize)
            body.skip(fsize)
            for _ in range(fn.uleb()):  # local declarations: count, type
                fn.uleb()
                fn.byte()
            g, p = _scan_body(fn, used)
            grows, padded = grows or g, padded + p
    return CodeFacts(grows_memory=grows, padded_table_index=padded, proposals=frozenset(used))
