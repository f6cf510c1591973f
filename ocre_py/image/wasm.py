"""A small reader of the WebAssembly binary format: imports, exports and memory limits.

The image room must work where no wasm engine is installed (the Zephyr side imports it), so this
parses just the sections it needs straight from the bytes instead of asking wasmtime. It also
recognises WAMR AOT files by their magic so AOT layers can be stored without being parsed.
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
_TYPE_SECTION, _IMPORT_SECTION, _MEMORY_SECTION, _EXPORT_SECTION = 1, 2, 5, 7
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
