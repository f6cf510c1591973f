"""native_sim: the firmware is a host executable whose flash is ``flash.bin`` (mmap'd from a file).

``zephyr.exe`` opens ``flash.bin`` in its current directory unless ``--flash=<path>`` says otherwise,
so we always pass the path explicitly. The file must hold the whole simulated flash: the storage
image sits at the partition's offset in the flash device, 0xFF (erased) everywhere else, exactly as
Ocre's ``storage_partition.cmake`` prepares ``B/flash.bin``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ocre_py.errors import InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.expect import RunResult, run_and_expect

log = logging.getLogger(__name__)


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


def native_command(
    exe: str | os.PathLike[str], *, flash_bin: str | os.PathLike[str] | None, stop_at: float | None
) -> list[str]:
    cmd = [str(exe)]
    if flash_bin is not None:
        cmd.append(f"--flash={flash_bin}")
    if stop_at:
        cmd.append(f"--stop_at={stop_at:g}")
    return cmd


def run_exe(
    exe: str | os.PathLike[str],
    *,
    flash_bin: str | os.PathLike[str] | None = None,
    expect: Sequence[str] = (),
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
) -> RunResult:
    exe_path = Path(exe)
    if not exe_path.is_file():
        raise InvalidInput.field(
            None, "native_sim executable", str(exe_path), "B/zephyr/zephyr.exe (build first)"
        )
    cmd = native_command(exe_path, flash_bin=flash_bin, stop_at=None)
    return run_and_expect(cmd, expect=expect, timeout=timeout, on_line=on_line, cwd=exe_path.parent)
