"""Run Cortex-M firmware in QEMU with the UART on stdio and, optionally, a storage image preloaded.

The machine comes from the board database (``qemu.machine``/``qemu.cpu``), never from the board's
name. Storage goes in through QEMU's generic loader device (``-device loader,file=...,addr=...``),
which writes raw bytes into the guest's address space before the CPU starts: into memory-mapped
flash, or into the RAM that a Zephyr flash simulator uses as its ``memory-region`` (such a simulator
does not erase at init, so the firmware mounts the preloaded LittleFS). Semihosting is enabled so a
firmware (or a ztest) can end the run with its exit status.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ocre_py.errors import InvalidInput, MissingProgram
from ocre_py.zephyr.emulate.expect import RunResult, run_and_expect

log = logging.getLogger(__name__)

QEMU_ARM = "qemu-system-arm"


@dataclass(frozen=True)
class Load:
    """A file the loader device places at ``address`` before reset."""

    path: Path
    address: int


def qemu_command(
    elf: str | os.PathLike[str],
    *,
    machine: str,
    cpu: str | None = None,
    loads: Sequence[Load] = (),
    semihosting: bool = True,
    program: str = QEMU_ARM,
    extra: Sequence[str] = (),
) -> list[str]:
    """The exact command line, built from parts in a fixed order (the oracle tests compare)."""
    cmd = [program, "-machine", machine]
    if cpu:
        cmd += ["-cpu", cpu]
    cmd += ["-display", "none", "-monitor", "none", "-serial", "stdio"]
    if semihosting:
        cmd += ["-semihosting-config", "enable=on,target=native"]
    cmd += ["-kernel", str(elf)]
    for load in loads:
        cmd += ["-device", f"loader,file={load.path},addr={load.address:#x}"]
    cmd += list(extra)
    return cmd


def run_elf(
    elf: str | os.PathLike[str],
    *,
    machine: str,
    cpu: str | None = None,
    loads: Sequence[Load] = (),
    expect: Sequence[str] = (),
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    program: str = QEMU_ARM,
) -> RunResult:
    """Run ``elf`` on ``machine`` and apply the ordered ``expect`` regexes (see :mod:`expect`)."""
    elf_path = Path(elf)
    if not elf_path.is_file():
        raise InvalidInput.field(None, "ELF", str(elf_path), "an existing firmware file (zephyr.elf)")
    for load in loads:
        if not load.path.is_file():
            raise InvalidInput.field(None, "storage image", str(load.path), "an existing file")
    if shutil.which(program) is None:
        raise MissingProgram(program, packages="qemu-system-arm")
    cmd = qemu_command(elf_path, machine=machine, cpu=cpu, loads=loads, program=program)
    return run_and_expect(cmd, expect=expect, timeout=timeout, on_line=on_line)
