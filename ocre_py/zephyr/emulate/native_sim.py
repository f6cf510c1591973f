"""native_sim: the firmware is a host executable whose flash is ``flash.bin`` (mmap'd from a file).

``zephyr.exe`` opens ``flash.bin`` in its current directory unless ``--flash=<path>`` says otherwise,
so we always pass the path explicitly. The file itself is written by
:mod:`ocre_py.zephyr.storage.native_flash`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ocre_py.errors import InvalidInput
from ocre_py.zephyr.emulate.expect import RunResult, run_and_expect

log = logging.getLogger(__name__)


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
