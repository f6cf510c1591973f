"""``west ocre flash``: forward to ``west flash`` with the board's runner, or program through pyocd.

``west flash`` stays the default (runners.yaml is the contract between CMake and the runners); the
``--pyocd`` path exists for data-only and sector-erase programming without a Zephyr tree: the
target and pack come from the board database. No probe is one clear line, never a hang
(``blocking=False``; ``pyocd flash`` without ``-W`` would wait forever).
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import DeployError, InvalidInput, NotFound
from ocre_py.progress import Progress
from ocre_py.zephyr.board.database import Board, lookup_board
from ocre_py.zephyr.project import build_dir as bdir
from ocre_py.zephyr.project.workspace import WestContext

log = logging.getLogger(__name__)


@dataclass
class FlashRequest:
    build_dir: Path = Path("build")
    runner: str | None = None
    use_pyocd: bool = False
    pyocd_target: str | None = None
    pack: str | None = None
    probe: str | None = None  # pyocd unique id
    file: Path | None = None  # explicit hex/bin/elf
    file_kind: str | None = None  # "hex", "elf" or "bin" (--hex-file…); default: the file's suffix
    address: int | None = None  # for a .bin
    domain: str | None = None
    skip_rebuild: bool = False
    runner_args: list[str] = field(default_factory=list)
    dry_run: bool = False


@dataclass
class FlashResult:
    method: str  # "west flash" or "pyocd"
    command: list[str] | None = None
    file: str | None = None
    target: str | None = None


def board_of_build(build_dir: Path) -> Board | None:
    cached = bdir.board(build_dir)
    if not cached:
        return None
    try:
        return lookup_board(cached)
    except NotFound:
        return None


def west_flash_command(request: FlashRequest, board: Board | None) -> list[str]:
    """The exact ``west flash`` command (test oracle)."""
    cmd = [sys.executable, "-m", "west", "flash", "-d", str(request.build_dir)]
    runner = request.runner or (board.default_runner if board and board.default_runner != "native" else None)
    if runner:
        cmd += ["-r", runner]
    if request.domain:
        cmd += ["--domain", request.domain]
    if request.skip_rebuild:
        cmd.append("--skip-rebuild")
    if request.file:
        kind = request.file_kind or request.file.suffix.lstrip(".")
        flag = {"hex": "--hex-file", "bin": "--bin-file", "elf": "--elf-file"}.get(kind)
        if not flag:
            raise InvalidInput.field(None, "--file", str(request.file), "a .hex, .bin or .elf file")
        cmd += [flag, str(request.file)]
    return cmd + list(request.runner_args)


def pick_image(build_dir: Path) -> Path:
    """hex (addresses inside) > elf > bin, as Zephyr's pyocd runner prefers hex."""
    for name in ("zephyr.hex", "zephyr.elf", "zephyr.bin"):
        p = build_dir / "zephyr" / name
        if p.is_file():
            return p
    raise _nothing_built(build_dir, f"no zephyr.hex/.elf/.bin in {build_dir / 'zephyr'}")


def _nothing_built(build_dir: Path, what: str) -> NotFound:
    return NotFound(f"nothing built in {build_dir}: {what}", hint="build first: west ocre build -b BOARD")


def flash_with_pyocd(
    request: FlashRequest,
    board: Board | None,
    *,
    connect: Callable[..., Any] | None = None,
    progress: Progress | None = None,
) -> FlashResult:
    """Program through pyocd's API: sector erase, smart flash; no probe → :class:`DeployError`."""
    target = request.pyocd_target or (board.pyocd_target if board else None)
    if not target:
        raise InvalidInput(
            f"no pyocd target for {board.name if board else 'this build'}: pass --target",
            hint="'pyocd list --targets' lists them (STM32U5 parts need the Keil.STM32U5xx_DFP pack)",
        )
    image = request.file or pick_image(request.build_dir)
    result = FlashResult(method="pyocd", file=str(image), target=target)
    if request.dry_run:
        return result
    try:
        from pyocd.core.helpers import ConnectHelper
        from pyocd.flash.file_programmer import FileProgrammer
    except ImportError:
        raise DeployError("pyocd is not installed", hint="pip install pyocd") from None
    options: dict[str, Any] = {"target_override": target, "chip_erase": "sector", "smart_flash": True}
    if request.pack:
        options["pack"] = request.pack
    connect = connect or ConnectHelper.session_with_chosen_probe
    session = connect(blocking=False, return_first=True, unique_id=request.probe, **options)
    if session is None:
        raise DeployError(
            "no debug probe found: connect the board's ST-LINK/CMSIS-DAP over USB ('pyocd list' shows none)"
        )
    with session:
        fraction = None if progress is None else (lambda f: progress(int(f * 1000), 1000))  # pyocd: 0..1
        programmer = FileProgrammer(session, progress=fraction, chip_erase="sector", smart_flash=True)
        kwargs: dict[str, Any] = {}
        if (request.file_kind if request.file else None) == "bin" or image.suffix == ".bin":
            kwargs["base_address"] = (
                request.address if request.address is not None else board.flash.base if board else 0
            )
        programmer.program(str(image), **kwargs)
    return result


def flash(
    request: FlashRequest,
    ctx: WestContext,
    *,
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
) -> FlashResult:
    board = board_of_build(request.build_dir)
    if request.use_pyocd and not (request.file or board or request.pyocd_target):
        pick_image(request.build_dir)  # an empty build dir says "nothing built", not "no target"
    if request.use_pyocd:
        return flash_with_pyocd(request, board)
    cmd = west_flash_command(request, board)
    result = FlashResult(method="west flash", command=cmd)
    if request.dry_run:
        return result
    if not bdir.is_configured(request.build_dir):  # before the tree: the likelier mistake
        raise _nothing_built(request.build_dir, "no CMakeCache.txt")
    zephyr_base = ctx.require_zephyr()
    log.info("running: %s", shlex.join(cmd))
    run(cmd, env=dict(os.environ, ZEPHYR_BASE=str(zephyr_base)), check=True)
    return result
