"""``ocre doctor --partition``: a LittleFS partition image or a tiny bundle, checked read-only."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ocre_py.doctor.report import Finding
from ocre_py.errors import OcreError

log = logging.getLogger(__name__)


# --- a partition image ----------------------------------------------------------------------------


def check_partition(
    path: str | os.PathLike[str], *, block_size: int | None = None, repair: bool = False
) -> list[Finding]:
    """Mount a storage-partition image read-only and check the Ocre layout, its images and autostart.

    A tiny-profile bundle (``OCRB`` magic) is validated as a bundle instead: header, CRC and modules.

    Nothing is written back (even with ``repair``): a partition is the device's data, and the way to
    repair one is to deploy again (``--replace``). Without ``block_size`` the geometry comes from the
    superblock, which is only trusted when it agrees with the file length (see ``detect_geometry``).
    """
    from ocre_py.image.wasm import is_aot, parse_module
    from ocre_py.zephyr.board.geometry import Geometry
    from ocre_py.zephyr.storage import autostart
    from ocre_py.zephyr.storage import littlefs as partition

    p = Path(path)
    out: list[Finding] = []
    try:
        data = p.read_bytes()
    except OSError as exc:
        return [Finding("partition", str(p), f"cannot read the image ({exc.strerror})")]
    from ocre_py.zephyr.storage.bundle import MAGIC

    if data[: len(MAGIC)] == MAGIC:  # the tiny profile's bundle, not a LittleFS image
        if repair:
            log.info("%s: bundles are reported, never rewritten; redeploy to repair", p)
        return _check_bundle(data, p)
    try:
        if block_size:
            geometry = Geometry(address=0, size=len(data), erase_block=block_size, source=str(p))
        else:
            geometry = partition.detect_geometry(data, source=str(p))
    except OcreError as exc:
        return [Finding("partition", str(p), exc.message)]
    try:
        fs = _mount_readonly(data, geometry)
    except OcreError as exc:
        return [Finding("partition", str(p), exc.message)]
    for d in (partition.ROOT, partition.IMAGES_DIR, partition.CONTAINERS_DIR):
        if not _lfs_isdir(fs, d):
            out.append(Finding("partition", f"{p}:/{d}", "Ocre directory missing (deploy creates it)"))
    names: set[str] = set()
    if _lfs_isdir(fs, partition.IMAGES_DIR):
        for name in sorted(_lfs_call(fs.listdir, partition.IMAGES_DIR) or []):
            names.add(name)
            where = f"{p}:/{partition.IMAGES_DIR}/{name}"
            try:
                with fs.open(f"{partition.IMAGES_DIR}/{name}", "rb") as fh:
                    blob = bytes(fh.read())
                if not is_aot(blob):
                    parse_module(blob, source=name)
            except OcreError as exc:
                out.append(Finding("partition", where, f"not a valid wasm module: {exc.message}"))
            except Exception as exc:  # littlefs raises its own errors and OSErrors for bad metadata
                out.append(Finding("partition", where, f"unreadable ({type(exc).__name__} {exc})"))
    if _lfs_exists(fs, partition.AUTOSTART_FILE):
        where = f"{p}:/{partition.AUTOSTART_FILE}"
        try:
            with fs.open(partition.AUTOSTART_FILE, "rb") as fh:
                entries = autostart.parse(bytes(fh.read()).decode(), source=where)
            for e in entries:
                if e.image not in names:
                    out.append(Finding("partition", where, f"autostart entry '{e.name}' names missing image "
                                                           f"'{e.image}'"))  # fmt: skip
        except OcreError as exc:
            out.append(Finding("partition", where, exc.message))
        except Exception as exc:
            out.append(Finding("partition", where, f"unreadable ({type(exc).__name__} {exc})"))
    if repair:
        log.info("%s: partition images are reported, never rewritten; redeploy to repair", p)
    return out


def _check_bundle(data: bytes, p: Path) -> list[Finding]:
    """Validate a tiny-profile bundle as the firmware reads it: header, CRC, entries, modules."""
    from ocre_py.image.wasm import is_aot, parse_module
    from ocre_py.zephyr.storage.bundle import read_bundle

    try:
        bundle = read_bundle(data, source=str(p), partition_size=len(data))
    except OcreError as exc:
        return [Finding("partition", str(p), f"{exc.message} (an Ocre bundle: deploy again to rewrite it)")]
    out = []
    for entry in bundle.entries:
        try:
            if not is_aot(entry.module):
                parse_module(entry.module, source=entry.name)
        except OcreError as exc:
            out.append(Finding("partition", f"{p}:{entry.name}", f"not a valid wasm module: {exc.message}"))
    return out


def _mount_readonly(data: bytes, geometry: Any) -> Any:
    from littlefs import LittleFS, LittleFSError, UserContext

    from ocre_py.errors import DeployError
    from ocre_py.zephyr.storage.littlefs import NAME_MAX

    fs = LittleFS(
        context=UserContext(buffer=bytearray(data)),  # a copy: the file itself is never touched
        mount=False,
        block_size=geometry.erase_block,
        block_count=geometry.block_count,
        name_max=NAME_MAX,
    )
    try:
        fs.mount()
    except LittleFSError as exc:
        raise DeployError(
            f"not a LittleFS image with block size {geometry.erase_block} "
            f"and {geometry.block_count} blocks ({exc})"
        ) from None
    return fs


def _lfs_call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:
        return None


def _lfs_exists(fs: Any, path: str) -> bool:
    return _lfs_call(fs.stat, path) is not None


def _lfs_isdir(fs: Any, path: str) -> bool:
    st = _lfs_call(fs.stat, path)
    return st is not None and st.type == 2  # LFS_TYPE_DIR
