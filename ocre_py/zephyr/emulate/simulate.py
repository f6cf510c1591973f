"""Decide how ``run`` boots a firmware: QEMU (machine from the board data) or native_sim, and with
which storage. Kept apart from the CLI so the decision is testable and reusable (twister-like CI).

Inputs, in precedence order: ``--elf`` + ``-b``/``--machine`` (any Cortex-M ELF) → a build directory
(``zephyr.elf`` or native_sim's ``zephyr.exe``, board from ``CMakeCache.txt``). Storage: ``--storage``,
else the build's last packed ``ocre/storage.bin``; its QEMU load address: ``--storage-addr``, else
the geometry's ``load_address`` (memory-mapped flash, or a flash simulator's ``memory-region``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ocre_py.errors import BoardError, InvalidInput
from ocre_py.zephyr.board.database import Board
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.emulate import native_sim, qemu
from ocre_py.zephyr.emulate.expect import RunResult
from ocre_py.zephyr.storage.native_flash import write_flash_bin

log = logging.getLogger(__name__)


@dataclass
class RunPlan:
    """A resolved run: either ``elf`` on ``machine`` or a native ``exe`` with ``flash_bin``."""

    kind: str  # "qemu" | "native_sim"
    program: Path
    machine: str | None = None
    cpu: str | None = None
    loads: tuple[qemu.Load, ...] = ()
    flash_bin: Path | None = None

    def command(self) -> list[str]:
        if self.kind == "qemu":
            return qemu.qemu_command(self.program, machine=self.machine or "", cpu=self.cpu, loads=self.loads)
        return native_sim.native_command(self.program, flash_bin=self.flash_bin, stop_at=None)

    def run(
        self,
        *,
        expect: Sequence[str] = (),
        timeout: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> RunResult:
        if self.kind == "qemu":
            return qemu.run_elf(
                self.program, machine=self.machine or "", cpu=self.cpu, loads=self.loads,
                expect=expect, timeout=timeout, on_line=on_line,
            )  # fmt: skip
        return native_sim.run_exe(
            self.program, flash_bin=self.flash_bin, expect=expect, timeout=timeout, on_line=on_line
        )


def _board(name: str) -> Board:
    from ocre_py.zephyr.board.database import lookup_board

    return lookup_board(name)


def plan_run(
    *,
    build_dir: Path | None = None,
    elf: Path | None = None,
    board: str | None = None,
    machine: str | None = None,
    cpu: str | None = None,
    storage: Path | None = None,
    storage_addr: int | None = None,
) -> RunPlan:
    from ocre_py.zephyr.board import geometry
    from ocre_py.zephyr.project import build_dir as bdir

    geo: Geometry | None = None
    if build_dir is not None and elf is None and not bdir.is_configured(build_dir):
        raise InvalidInput.field(
            None,
            "build directory",
            str(build_dir),
            "a Zephyr build (no CMakeCache.txt)",
            hint=f"build it first: west ocre build -b BOARD -d {build_dir}",
        )
    app = bdir.app_dir(build_dir) if build_dir is not None else None
    if board is None and app is not None:
        board = bdir.board(app)
    entry = _board(board.split("@")[0]) if board else None
    from ocre_py.zephyr.storage.bundle import is_bundle_file
    from ocre_py.zephyr.storage.formats import get_format  # the tiny profile: "bundle"

    tiny_build = app is not None and bdir.profile(app) == "tiny"
    if tiny_build:
        geo = get_format("bundle").geometry(board=entry, build_dir=app, medium=None)
    elif app is not None and (app / "zephyr" / "zephyr.dts").is_file():
        geo = bdir.storage_geometry(app)
    elif entry is not None:
        geo = geometry.from_board(entry)
    if storage is None and app is not None and (app / "ocre" / "storage.bin").is_file():
        storage = app / "ocre" / "storage.bin"
    if storage is None and app is not None and tiny_build and (app / "ocre_tiny" / "bundle.bin").is_file():
        storage = app / "ocre_tiny" / "bundle.bin"  # the hello bundle tiny.cmake packs at build time
    if storage is not None and not tiny_build and is_bundle_file(storage):
        geo = get_format("bundle").geometry(board=entry, build_dir=None if entry else app, medium=None)
    native = entry is not None and entry.type == "native" and elf is None
    if native:
        if app is None:
            raise InvalidInput.field(None, "-d", "", "a native_sim build directory (zephyr/zephyr.exe)")
        flash_bin = None
        if storage is not None and geo is not None:
            flash_bin = write_flash_bin(app / "ocre" / "flash.bin", storage.read_bytes(), geo)
        return RunPlan("native_sim", app / "zephyr" / "zephyr.exe", flash_bin=flash_bin)
    if elf is None:
        if app is None:
            raise InvalidInput.field(None, "firmware", "", "-d BUILD_DIR or --elf FILE")
        elf = app / "zephyr" / "zephyr.elf"
    machine = machine or (entry.qemu_machine if entry else None)
    cpu = cpu or (entry.qemu_cpu if entry else None)
    if not machine:
        raise BoardError(
            f"board {board or '(none)'} has no QEMU machine",
            hint="pass -b with a QEMU board (mps2/an385, qemu_cortex_m3, ...) or --machine",
        )
    loads: tuple[qemu.Load, ...] = ()
    if storage is not None:
        address = storage_addr if storage_addr is not None else (geo.load_address if geo else None)
        if address is None:
            raise BoardError(
                f"{geo.source if geo else board}: storage cannot be preloaded (a flash simulator without a "
                "memory-region is erased at boot)",
                hint="give the sim flash a memory-region in the overlay, or pass --storage-addr",
            )
        loads = (qemu.Load(Path(storage), address),)
    return RunPlan("qemu", Path(elf), machine=machine, cpu=cpu, loads=loads)
