"""The container bundle: a raw, versioned, little-endian image of Wasm containers for memory-mapped flash.

The tiny profile has no flash driver and no filesystem (the LM3S6965 behind ``qemu_cortex_m3`` has
neither), so containers cannot live in littlefs. Instead they are packed into one flat bundle that the
firmware reads *in place* at the partition address. Every field is a little-endian ``u32`` (or ``u16``
in the header) at a fixed offset so the C reader (``zephyr_app/src/bundle.c``) needs no parser, no
allocation and no libc; everything it trusts is bounds-checked first and covered by a CRC-32.

Layout (``docs/tiny.md`` is the normative description; this module and ``bundle.c`` implement it)::

    header (32 bytes)   magic "OCRB", version, header_size, entry_size, count, total_size,
                        data_offset, crc32
    entry table         count × 80 bytes: name/args/env (offset, length, count), flags,
                        module offset and size, SHA-256 of the module
    string area         names, argv and environ strings, each NUL-terminated   [table end, data_offset)
    module area         the .wasm bytes, each starting 4-byte aligned           [data_offset, total_size)

The writer follows the add-then-commit habit (:class:`BundleWriter` ``add()`` then ``build()``), the
reader (:func:`read_bundle`) applies exactly the checks of the C reader so ``--list`` and the firmware
agree on what is a valid bundle; the differential fuzz test in ``tests/tiny`` holds them to that.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ocre_py.errors import DeployError, InvalidInput
from ocre_py.fsutil import atomic_write

log = logging.getLogger(__name__)

MAGIC = b"OCRB"
VERSION = 1
HEADER_SIZE = 32
ENTRY_SIZE = 80
ALIGN = 4
#: Limits shared with ``bundle.h`` (``OCRE_BUNDLE_MAX_*``); a bundle beyond them is refused.
MAX_ENTRIES = 32
MAX_NAME = 63
MAX_STRINGS = 32  # argv or environ entries per container
MAX_STRINGS_BYTES = 1024  # bytes of argv or environ (with NULs) per container
#: Entry flags. Unknown bits are refused so an older firmware never ignores a newer meaning.
FLAG_OCRE_API = 0x1  # the container holds the ``ocre:api`` capability
KNOWN_FLAGS = FLAG_OCRE_API
WASM_HEADER = b"\0asm\x01\0\0\0"

_HEADER = struct.Struct("<4sHHHHIIIII")
_ENTRY = struct.Struct("<12I32s")
_NAME_RE = re.compile(r"[a-z0-9._-]+")
assert _HEADER.size == HEADER_SIZE and _ENTRY.size == ENTRY_SIZE


class BundleError(DeployError):
    """A bundle is malformed or refused; the message names the source, the field and the value."""


@dataclass(frozen=True)
class BundleEntry:
    """One container in a bundle: its name, the module bytes, argv (without argv[0]) and environ."""

    name: str
    module: bytes
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    flags: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.module).hexdigest()

    @property
    def size(self) -> int:
        return len(self.module)


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle; ``offsets[i]`` is where entry ``i``'s module starts, from the bundle start."""

    entries: tuple[BundleEntry, ...]
    total_size: int
    crc32: int
    offsets: tuple[int, ...] = field(default=())

    def describe(self) -> list[str]:
        """One line per entry, the exact format the C test program prints (the round-trip oracle)."""
        lines = [f"bundle v{VERSION} count={len(self.entries)} size={self.total_size} crc={self.crc32:08x}"]
        for entry, off in zip(self.entries, self.offsets, strict=True):
            lines.append(
                f"entry {entry.name} off={off} size={entry.size} flags=0x{entry.flags:x} "
                f"sha256={entry.sha256} args=[{_quoted(entry.args)}] env=[{_quoted(entry.env)}]"
            )
        return lines


def _quoted(values: Sequence[str]) -> str:
    """Strings as the C test program prints them: quoted, printable ASCII kept, other bytes as \\xHH."""

    def one(value: str) -> str:
        raw = value.encode(errors="surrogateescape")
        return (
            '"'
            + "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}" for b in raw)
            + '"'
        )

    return ",".join(one(v) for v in values)


def _align(n: int) -> int:
    return (n + ALIGN - 1) & ~(ALIGN - 1)


def _strings(values: Sequence[str]) -> bytes:
    return b"".join(v.encode() + b"\0" for v in values)


def check_name(name: str, *, source: str | None = None) -> str:
    """The Ocre name rule (ocre-api.md 6): ``[a-z0-9._-]``, not starting with '.', 1..63 characters."""
    if not (1 <= len(name) <= MAX_NAME and _NAME_RE.fullmatch(name) and not name.startswith(".")):
        raise InvalidInput.field(
            source, "container name", name, f"1..{MAX_NAME} characters of [a-z0-9._-], not starting with '.'"
        )
    return name


def _check_strings(values: Sequence[str], what: str, source: str | None, name: str) -> None:
    for v in values:
        if "\0" in v:
            raise InvalidInput.field(source, f"{name}: {what}", v, "no NUL characters")
        if what == "env" and (v.startswith("=") or "=" not in v):
            raise InvalidInput.field(source, f"{name}: env", v, "KEY=VALUE")
    if len(values) > MAX_STRINGS:
        raise InvalidInput.field(source, f"{name}: {what} count", len(values), f"at most {MAX_STRINGS}")
    size = len(_strings(values))
    if size > MAX_STRINGS_BYTES:
        raise InvalidInput.field(source, f"{name}: {what} bytes", size, f"at most {MAX_STRINGS_BYTES}")


class BundleWriter:
    """Collect containers with :meth:`add`, then produce the bundle bytes once with :meth:`build`."""

    def __init__(self) -> None:
        self._entries: list[BundleEntry] = []

    @property
    def entries(self) -> tuple[BundleEntry, ...]:
        return tuple(self._entries)

    def add(
        self,
        name: str,
        module: bytes,
        *,
        args: Iterable[str] = (),
        env: Iterable[str] = (),
        flags: int = 0,
        source: str | None = None,
    ) -> BundleEntry:
        """Validate one container now (name, strings, flags, wasm header) so ``build`` cannot fail late."""
        check_name(name, source=source)
        if any(e.name == name for e in self._entries):
            raise InvalidInput.field(source, "container name", name, "unique within the bundle")
        if len(self._entries) >= MAX_ENTRIES:
            raise InvalidInput.field(
                source, "container count", len(self._entries) + 1, f"at most {MAX_ENTRIES}"
            )
        if not module.startswith(WASM_HEADER):
            raise InvalidInput.field(source, f"{name}: module header", module[:8].hex(), "a wasm v1 module")
        if flags & ~KNOWN_FLAGS:
            raise InvalidInput.field(source, f"{name}: flags", hex(flags), f"only bits {KNOWN_FLAGS:#x}")
        entry = BundleEntry(name, bytes(module), tuple(args), tuple(env), flags)
        _check_strings(entry.args, "args", source, name)
        _check_strings(entry.env, "env", source, name)
        self._entries.append(entry)
        return entry

    def build(self, *, max_size: int | None = None) -> bytes:
        """Lay out header, table, strings and 4-byte-aligned modules; refuse a bundle over ``max_size``."""
        count = len(self._entries)
        pos = HEADER_SIZE + count * ENTRY_SIZE
        strings = bytearray()
        placed: list[tuple[int, int, int, int, int, int, int, int]] = []
        for e in self._entries:
            name_off = pos + len(strings)
            strings += e.name.encode() + b"\0"
            args = _strings(e.args)
            args_off = pos + len(strings) if args else 0
            strings += args
            env = _strings(e.env)
            env_off = pos + len(strings) if env else 0
            strings += env
            placed.append(
                (name_off, len(e.name), args_off, len(args), len(e.args), env_off, len(env), len(e.env))
            )
        data_offset = _align(pos + len(strings))
        out = bytearray(data_offset)
        out[pos : pos + len(strings)] = strings
        for i, (e, p) in enumerate(zip(self._entries, placed, strict=True)):
            module_off = len(out)
            out += e.module + b"\0" * (_align(len(e.module)) - len(e.module))
            entry = _ENTRY.pack(*p, e.flags, module_off, len(e.module), 0, hashlib.sha256(e.module).digest())
            out[HEADER_SIZE + i * ENTRY_SIZE : HEADER_SIZE + (i + 1) * ENTRY_SIZE] = entry
        total = len(out)
        if max_size is not None and total > max_size:
            raise DeployError(
                f"bundle of {count} container(s) is {total} bytes: the partition holds {max_size}",
                hint="deploy fewer or smaller containers (ocre build --tiny, wasm-opt -Oz)",
            )
        out[:HEADER_SIZE] = _HEADER.pack(
            MAGIC, VERSION, HEADER_SIZE, ENTRY_SIZE, 0, count, total, data_offset, 0, 0
        )
        crc = zlib.crc32(out) & 0xFFFFFFFF  # the crc field is still zero here: the documented rule
        struct.pack_into("<I", out, 24, crc)
        return bytes(out)

    def write(self, path: str | os.PathLike[str], *, max_size: int | None = None) -> int:
        """Build and write the bundle atomically; return its size."""
        data = self.build(max_size=max_size)
        atomic_write(path, data)
        return len(data)


def crc32_of(data: bytes | bytearray | memoryview, total: int) -> int:
    """CRC-32 (IEEE) of ``data[:total]`` with the header's crc field (bytes 24..27) taken as zero."""
    crc = zlib.crc32(data[:24])
    crc = zlib.crc32(b"\0\0\0\0", crc)
    return zlib.crc32(data[28:total], crc) & 0xFFFFFFFF


def _read_strings(
    data: bytes, off: int, length: int, count: int, lo: int, hi: int, what: str, fail: _Fail
) -> tuple[str, ...]:
    if count > MAX_STRINGS or length > MAX_STRINGS_BYTES:
        raise fail(f"{what} count/bytes", f"{count}/{length}", f"at most {MAX_STRINGS}/{MAX_STRINGS_BYTES}")
    if (count == 0) != (length == 0) or (count == 0 and off != 0):
        raise fail(f"{what} (offset, bytes, count)", (off, length, count), "all zero or all set")
    if count == 0:
        return ()
    if off < lo or off + length > hi:
        raise fail(f"{what} offset", off, f"inside the string area [{lo}, {hi})")
    raw = data[off : off + length]
    if raw[-1] != 0 or raw.count(0) != count:
        raise fail(f"{what} strings", raw[:32], f"{count} NUL-terminated strings filling {length} bytes")
    # Bytes are taken as they are (the firmware hands them to the guest unchanged); surrogateescape
    # keeps non-UTF-8 bytes round-trippable instead of refusing what the C reader accepts.
    values = tuple(s.decode(errors="surrogateescape") for s in raw[:-1].split(b"\0"))
    if what == "env" and any(v.startswith("=") or "=" not in v for v in values):
        raise fail("env strings", values, "KEY=VALUE entries")
    return values


class _Fail:
    def __init__(self, source: str, where: str = "") -> None:
        self.source, self.where = source, where

    def __call__(self, what: str, value: object, expected: str) -> BundleError:
        shown = value.hex() if isinstance(value, bytes) else value
        return BundleError(f"{self.source}: bundle {self.where}{what} {shown}: expected {expected}")


def read_bundle(data: bytes, *, source: str = "bundle", partition_size: int | None = None) -> Bundle:
    """Parse and validate a bundle exactly like ``ocre_bundle_open`` + ``ocre_bundle_entry`` in C.

    ``data`` may be longer than the bundle (a whole partition read back); ``partition_size`` bounds
    ``total_size`` the way the firmware's partition does.
    """
    fail = _Fail(source)
    avail = len(data) if partition_size is None else min(len(data), partition_size)
    if avail < HEADER_SIZE:
        raise fail("size", avail, f"at least the {HEADER_SIZE}-byte header (truncated)")
    magic, version, hsize, esize, res0, count, total, data_off, crc, res1 = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise fail("magic", magic, f"{MAGIC!r} (not an Ocre bundle, or the partition is empty)")
    if version != VERSION:
        raise fail("version", version, f"{VERSION} (this toolkit reads version {VERSION})")
    if hsize != HEADER_SIZE or esize != ENTRY_SIZE or res0 or res1:
        raise fail(
            "header_size/entry_size/reserved",
            (hsize, esize, res0, res1),
            f"({HEADER_SIZE}, {ENTRY_SIZE}, 0, 0)",
        )
    if count > MAX_ENTRIES:
        raise fail("count", count, f"at most {MAX_ENTRIES}")
    if total > avail or total % ALIGN:
        raise fail("total_size", total, f"a multiple of {ALIGN} within the {avail} bytes available")
    table_end = HEADER_SIZE + count * ENTRY_SIZE
    if data_off % ALIGN or data_off < table_end or data_off > total:
        raise fail("data_offset", data_off, f"4-byte aligned in [{table_end}, {total}]")
    actual = crc32_of(data, total)
    if actual != crc:
        raise fail("crc32", f"{crc:08x}", f"{actual:08x} (corrupted)")
    entries: list[BundleEntry] = []
    offsets: list[int] = []
    spans: list[tuple[int, int]] = []
    for i in range(count):
        (n_off, n_len, a_off, a_len, a_cnt, e_off, e_len, e_cnt, flags, m_off, m_size, res, digest) = (
            _ENTRY.unpack_from(data, HEADER_SIZE + i * ENTRY_SIZE)
        )
        efail = _Fail(source, f"entry {i} ")
        if n_len < 1 or n_len > MAX_NAME or n_off < table_end or n_off + n_len >= data_off:
            raise efail(
                "name (offset, length)", (n_off, n_len), f"1..{MAX_NAME} bytes inside the string area"
            )
        raw_name = data[n_off : n_off + n_len]
        name = raw_name.decode("latin-1")
        if data[n_off + n_len] != 0 or not _NAME_RE.fullmatch(name) or name.startswith("."):
            raise efail("name", raw_name, "a NUL-terminated Ocre name ([a-z0-9._-], not starting with '.')")
        if name in {e.name for e in entries}:
            raise efail("name", name, "unique within the bundle")
        args = _read_strings(data, a_off, a_len, a_cnt, table_end, data_off, "args", efail)
        env = _read_strings(data, e_off, e_len, e_cnt, table_end, data_off, "env", efail)
        if flags & ~KNOWN_FLAGS or res:
            raise efail("flags/reserved", (hex(flags), res), f"only flag bits {KNOWN_FLAGS:#x}, reserved 0")
        if m_off % ALIGN or m_off < data_off or m_size < len(WASM_HEADER) or m_size > total - m_off:
            raise efail(
                "module (offset, size)", (m_off, m_size), f"4-byte aligned inside [{data_off}, {total})"
            )
        for lo, hi in spans:
            if m_off < hi and lo < m_off + m_size:
                raise efail("module offset", m_off, f"no overlap with another module at [{lo}, {hi})")
        spans.append((m_off, m_off + m_size))
        module = bytes(data[m_off : m_off + m_size])
        if not module.startswith(WASM_HEADER):
            raise efail("module header", module[:8], "a wasm v1 module (\\0asm 01000000)")
        if hashlib.sha256(module).digest() != digest:
            raise efail("sha256", digest, f"{hashlib.sha256(module).hexdigest()} (module corrupted)")
        entries.append(BundleEntry(name, module, args, env, flags))
        offsets.append(m_off)
    return Bundle(tuple(entries), total, crc, tuple(offsets))


def read_bundle_file(path: str | os.PathLike[str], *, partition_size: int | None = None) -> Bundle:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput.field(
            None, "bundle file", str(path), f"a readable file ({exc.strerror})"
        ) from None
    return read_bundle(data, source=str(path), partition_size=partition_size)


def is_bundle_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` starts with the bundle magic (so ``run`` places it as a bundle)."""
    try:
        with Path(path).open("rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False
