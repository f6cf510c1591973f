"""Packing a partition image for a request: board and geometry, the format's packing and budget,
and the output files (``storage.bin``, ``storage.hex``, ``merged.hex``) written as one unit.

Files a partition deploy writes (all atomically) into ``<build>/ocre/`` (or ``-o``): ``storage.bin``,
``storage.hex`` (at the absolute partition address) and, when the build has ``zephyr.hex``,
``merged.hex``. The last image flashed to a device is kept as ``<build>/ocre/deployed.bin``: the
base of the next incremental flash.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocre_py.errors import DeployError, InvalidInput, NotFound
from ocre_py.fsutil import atomic_write_many, file_lock
from ocre_py.progress import Progress
from ocre_py.zephyr.board.database import Board, lookup_board
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.deploy.request import (
    DeployRequest,
    DeployResult,
    autostart_entries,
    read_images,
    resolve_sources,
)
from ocre_py.zephyr.project import build_dir as bdir
from ocre_py.zephyr.storage import hexfile
from ocre_py.zephyr.storage.formats import Packed, get_format


def board_name(req: DeployRequest) -> str | None:
    """``-b BOARD``, else the board the build directory was configured for."""
    return req.board or (bdir.board(req.build_dir) if req.build_dir is not None else None)


def resolve_board(req: DeployRequest) -> Board | None:
    """The database entry of the request's board, or None when there is no board or it is unknown."""
    name = board_name(req)
    if not name:
        return None
    try:
        return lookup_board(name.split("@")[0])
    except NotFound:
        if req.board:
            raise
        return None  # a build for a board the database lacks: its devicetree still has the geometry


def resolve_geometry(req: DeployRequest, board: Board | None) -> Geometry:
    """From the build's ``zephyr.dts`` when there is a build, else from the board database;
    ``board`` is :func:`resolve_board`'s answer, which the caller needs too (resolved once)."""
    if req.build_dir is not None and not bdir.zephyr_dts(req.build_dir).is_file() and not board_name(req):
        raise InvalidInput.field(
            None, "build directory", str(req.build_dir), "a Zephyr build (zephyr/zephyr.dts missing)"
        )
    if req.build_dir is None and not req.board:
        raise InvalidInput.field(
            None,
            "target",
            "",
            "-b BOARD or -d BUILD_DIR",
            hint="the device, --qemu, --native-sim and -o need one",
        )
    return get_format(req.format).geometry(board=board, build_dir=req.build_dir, medium=req.medium)


def state_dir(req: DeployRequest) -> Path:
    """Where outputs and the last deployed image live: ``<build>/ocre`` or an ``ocre-deploy`` dir."""
    if req.build_dir is not None:
        return bdir.app_dir(req.build_dir) / "ocre"
    board = (req.board or "board").replace("/", "_")
    return Path.cwd() / f"ocre-deploy-{board}"


@dataclass(frozen=True)
class OutputPaths:
    bin: Path
    hex: Path
    merged: Path


def output_paths(req: DeployRequest) -> OutputPaths:
    """storage.bin / storage.hex / merged.hex for ``-o FILE.bin``, ``-o DIR`` or the state dir."""
    out = req.output
    if out is not None and out.suffix in (".bin", ".img"):
        return OutputPaths(out, out.with_suffix(".hex"), out.with_name("merged.hex"))
    d = out if out is not None else state_dir(req)
    return OutputPaths(d / "storage.bin", d / "storage.hex", d / "merged.hex")


def pack_partition(
    req: DeployRequest,
    *,
    previous_path: Path | None,
    previous_data: bytes | None = None,
    progress: Progress | None = None,
) -> tuple[bytes, Geometry, DeployResult]:
    """Resolve images and geometry, pack them on top of the previous image (for an incremental
    format), check the format's budget, and write the output files.

    The previous image is ``previous_data`` (read back from a device) when given, else the file at
    ``previous_path``; ``--replace`` ignores both. Nothing is written when a check fails.
    """
    if req.name and len(req.sources) > 1:
        raise InvalidInput.field(None, "-n", req.name, "one IMAGE (a name names one container)")
    sources = resolve_sources(req.sources, require_signature=req.require_signature)
    board = resolve_board(req)
    geometry = resolve_geometry(req, board)
    fmt = get_format(req.format)
    images = read_images(req, sources)  # checked before anything (even the lock file) is written
    paths = output_paths(req)

    def load_previous() -> bytes | None:
        if req.replace or not fmt.incremental:
            return None
        if previous_data is not None:
            return previous_data
        return previous_path.read_bytes() if previous_path is not None and previous_path.is_file() else None

    def pack(previous: bytes | None) -> tuple[Packed, dict[str, Any] | None]:
        if previous is not None and len(previous) != geometry.size:
            raise DeployError(
                f"{previous_path}: {len(previous)} bytes, but the partition is now {geometry.size} bytes",
                hint="the partition changed size: deploy with --replace to start a fresh image",
            )
        packed = fmt.pack(
            images, geometry, entries=autostart_entries(req, sources), previous=previous, progress=progress
        )
        return packed, fmt.budget(packed.data, board)  # the budget raises with the numbers

    # Every check (fit, budget) runs before anything is written, even the lock file; then, under the
    # lock, the base is read again and, if another deploy changed it meanwhile, packed again on top
    # of it: two deploys to one output serialise and neither update is lost.
    previous = load_previous()
    packed, budget = pack(previous)
    lock = (
        contextlib.nullcontext() if req.dry_run else file_lock(paths.bin.with_name(f".{paths.bin.name}.lock"))
    )
    with lock:
        current = load_previous()
        if current != previous:
            packed, budget = pack(current)
        data = packed.data
        result = DeployResult(
            target="files", geometry=geometry.to_dict(), used_bytes=packed.used, budget=budget
        )
        result.images = fmt.list(data, geometry, source=str(paths.bin))
        if not req.dry_run:
            files: dict[Path, bytes | str] = {paths.bin: data}
            if geometry.load_address is not None:
                files[paths.hex] = hexfile.bin_to_hex(
                    data, geometry.address, erase_block=geometry.erase_block
                )
            app_hex = bdir.zephyr_hex(req.build_dir) if req.build_dir is not None else None
            if app_hex is not None:
                files[paths.merged] = hexfile.merged_hex(
                    app_hex, data, geometry.address, erase_block=geometry.erase_block
                )
            atomic_write_many(files, what="the partition image")  # bin and hex always hold the same
            names = {paths.bin: "storage.bin", paths.hex: "storage.hex", paths.merged: "merged.hex"}
            result.files.update({names[p]: str(p) for p in files})
    return data, geometry, result
