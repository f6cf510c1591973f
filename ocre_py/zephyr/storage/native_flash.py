"""native_sim's flash file: the storage partition inside ``flash.bin``, the simulated flash device.

The file must hold the whole simulated flash: the storage image sits at the partition's offset in
the flash device, 0xFF (erased) everywhere else, exactly as Ocre's ``storage_partition.cmake``
prepares ``B/flash.bin``; ``zephyr.exe --flash=<path>`` maps it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ocre_py.errors import InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.zephyr.board.geometry import Geometry


def write_flash_bin(path: str | os.PathLike[str], image: bytes, geometry: Geometry) -> Path:
    """``flash.bin``: erased flash of the device's size with ``image`` at the partition offset."""
    position = geometry.address - geometry.flash_base
    size = max(geometry.flash_size or 0, position + len(image))
    data = bytearray(b"\xff" * size)
    data[position : position + len(image)] = image
    atomic_write(path, bytes(data))
    return Path(path)


def read_flash_bin(path: str | os.PathLike[str], geometry: Geometry) -> bytes:
    """The storage partition's bytes out of a ``flash.bin`` (what ``deploy --list`` reads)."""
    data = Path(path).read_bytes()
    position = geometry.address - geometry.flash_base
    if len(data) < position + geometry.size:
        raise InvalidInput.field(
            None, "flash.bin", str(path), f"at least {position + geometry.size} bytes (partition end)"
        )
    return data[position : position + geometry.size]
