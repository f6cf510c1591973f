"""Bundle surgery for the refusal tests: patch a field and (usually) fix the CRC so the structural
check under test is reached instead of the CRC check."""

from __future__ import annotations

import struct

from ocre_py.zephyr.storage.bundle import ENTRY_SIZE, HEADER_SIZE, crc32_of

WASM = b"\0asm\x01\0\0\0"
# Header fields (offset, struct format) and entry fields (offset within an entry).
HEADER = {"magic": (0, "4s"), "version": (4, "<H"), "header_size": (6, "<H"), "entry_size": (8, "<H"),
          "reserved0": (10, "<H"), "count": (12, "<I"), "total_size": (16, "<I"), "data_offset": (20, "<I"),
          "crc32": (24, "<I"), "reserved1": (28, "<I")}  # fmt: skip
_ENTRY_FIELDS = "name_off name_len args_off args_len args_count env_off env_len env_count flags module_off"
ENTRY = {name: 4 * i for i, name in enumerate([*_ENTRY_FIELDS.split(), "module_size", "reserved"])}


def fix_crc(data: bytes | bytearray) -> bytes:
    out = bytearray(data)
    if len(out) < HEADER_SIZE:
        return bytes(out)
    total = struct.unpack_from("<I", out, 16)[0]
    if HEADER_SIZE <= total <= len(out):
        struct.pack_into("<I", out, 24, crc32_of(out, total))
    return bytes(out)


def set_header(data: bytes, field: str, value: object, *, crc: bool = True) -> bytes:
    off, fmt = HEADER[field]
    out = bytearray(data)
    struct.pack_into(fmt, out, off, value)
    return fix_crc(out) if crc else bytes(out)


def set_entry(data: bytes, index: int, field: str, value: int, *, crc: bool = True) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, HEADER_SIZE + index * ENTRY_SIZE + ENTRY[field], value)
    return fix_crc(out) if crc else bytes(out)


def get_entry(data: bytes, index: int, field: str) -> int:
    return struct.unpack_from("<I", data, HEADER_SIZE + index * ENTRY_SIZE + ENTRY[field])[0]


def module(tag: bytes = b"", size: int = 0) -> bytes:
    """A byte string that passes the reader's wasm-header check (the reader does not parse further)."""
    body = tag + bytes(max(0, size - len(tag)))
    return WASM + body
