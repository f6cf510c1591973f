"""A footprint bar chart as PNG, written with the standard library only (zlib + a 3x5 font).

matplotlib would be a 40 MB dependency for one optional picture; a PNG is a few chunks of
filtered scanlines, and the labels need only lower-case letters, digits and a few signs.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ocre_py.fsutil import atomic_write
from ocre_py.zephyr.firmware.footprint import Footprint

# 3x5 glyphs, one int per row (bit 2 = left column).
_FONT = {
    "a": (2, 5, 7, 5, 5), "b": (6, 5, 6, 5, 6), "c": (3, 4, 4, 4, 3), "d": (6, 5, 5, 5, 6),
    "e": (7, 4, 6, 4, 7), "f": (7, 4, 6, 4, 4), "g": (3, 4, 5, 5, 3), "h": (5, 5, 7, 5, 5),
    "i": (7, 2, 2, 2, 7), "j": (1, 1, 1, 5, 2), "k": (5, 5, 6, 5, 5), "l": (4, 4, 4, 4, 7),
    "m": (5, 7, 7, 5, 5), "n": (6, 5, 5, 5, 5), "o": (2, 5, 5, 5, 2), "p": (6, 5, 6, 4, 4),
    "q": (2, 5, 5, 6, 3), "r": (6, 5, 6, 5, 5), "s": (3, 4, 2, 1, 6), "t": (7, 2, 2, 2, 2),
    "u": (5, 5, 5, 5, 7), "v": (5, 5, 5, 5, 2), "w": (5, 5, 7, 7, 5), "x": (5, 5, 2, 5, 5),
    "y": (5, 5, 2, 2, 2), "z": (7, 1, 2, 4, 7), "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7),
    "2": (6, 1, 2, 4, 7), "3": (6, 1, 2, 1, 6), "4": (5, 5, 7, 1, 1), "5": (7, 4, 6, 1, 6),
    "6": (3, 4, 7, 5, 7), "7": (7, 1, 1, 2, 2), "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 6),
    " ": (0, 0, 0, 0, 0), ".": (0, 0, 0, 0, 2), "/": (1, 1, 2, 4, 4), "-": (0, 0, 7, 0, 0),
    ":": (0, 2, 0, 2, 0), "%": (5, 1, 2, 4, 5),
}  # fmt: skip
ROM_COLOUR = (52, 101, 164)
RAM_COLOUR = (204, 102, 0)
SCALE = 2


def _png(width: int, height: int, pixels: list[bytearray]) -> bytes:
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def render_footprint_png(fp: Footprint, *, width: int = 640) -> bytes:
    """Two bars per component (ROM blue, RAM orange) scaled to the largest value, with labels."""
    rows = [(name, s.rom, s.ram) for name, s in fp.components.items()] + [
        ("unattributed", fp.unattributed.rom, fp.unattributed.ram)
    ]
    label_w = 13 * 4 * SCALE + 8
    bar_h, gap = 6 * SCALE, 4 * SCALE
    height = 10 + len(rows) * (2 * bar_h + gap) + 10
    img = [bytearray(b"\xff" * (width * 3)) for _ in range(height)]

    def rect(x0: int, y0: int, w: int, h: int, colour: tuple[int, int, int]) -> None:
        for y in range(max(0, y0), min(height, y0 + h)):
            for x in range(max(0, x0), min(width, x0 + w)):
                img[y][3 * x : 3 * x + 3] = bytes(colour)

    def text(x: int, y: int, s: str) -> None:
        for ch in s.lower():
            glyph = _FONT.get(ch, _FONT[" "])
            for r, bits in enumerate(glyph):
                for c in range(3):
                    if bits & (4 >> c):
                        rect(x + c * SCALE, y + r * SCALE, SCALE, SCALE, (0, 0, 0))
            x += 4 * SCALE

    biggest = max([1] + [max(rom, ram) for _, rom, ram in rows])
    plot_w = width - label_w - 90
    y = 10
    for name, rom, ram in rows:
        text(4, y + bar_h // 2, name)
        for value, colour, dy in ((rom, ROM_COLOUR, 0), (ram, RAM_COLOUR, bar_h)):
            w = int(plot_w * value / biggest)
            rect(label_w, y + dy, max(w, 1 if value else 0), bar_h - 2, colour)
            text(label_w + w + 4, y + dy, f"{value / 1024:.1f}k")
        y += 2 * bar_h + gap
    return _png(width, height, img)


def write_footprint_png(fp: Footprint, path: Path) -> None:
    atomic_write(path, render_footprint_png(fp))
