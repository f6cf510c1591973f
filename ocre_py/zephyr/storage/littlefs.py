"""The storage partition image: a LittleFS volume laid out the way the Ocre core reads it.

The firmware mounts ``storage_partition`` at ``/lfs`` and uses ``/lfs/ocre`` as its working directory,
so the volume's root holds ``ocre/images/<name>`` (raw ``.wasm`` files; the file name is the image ID),
an empty ``ocre/containers/`` and the autostart file ``ocre/autostart``
(:mod:`ocre_py.zephyr.storage.autostart`).

Why the image is edited in place: a previous image is *mounted* and changed, never rebuilt. littlefs
is copy-on-write, so adding one container rewrites only the new file's blocks plus a few metadata
blocks, and the incremental flasher (:mod:`ocre_py.zephyr.deploy.delta`) then programs just those erase
blocks. Rebuilding from scratch would move files and touch most of the partition.

Why nothing is ever formatted implicitly: ``LittleFS(mount=True)`` formats a buffer it cannot mount,
which silently wipes an image read with the wrong geometry. :meth:`Partition.from_bytes` raises,
naming the file and the geometry tried; :meth:`Partition.new` is the only place that formats.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from ocre_py.errors import DeployError, InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.image import wamr
from ocre_py.image.wamr import WamrBuild
from ocre_py.progress import Progress
from ocre_py.zephyr.board import geometry as geo
from ocre_py.zephyr.board.database import Board
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.project import build_dir as bdir
from ocre_py.zephyr.storage import autostart
from ocre_py.zephyr.storage.formats import Packed, register

log = logging.getLogger(__name__)

ROOT = "ocre"
IMAGES_DIR = f"{ROOT}/images"
CONTAINERS_DIR = f"{ROOT}/containers"
AUTOSTART_FILE = f"{ROOT}/autostart"
#: littlefs name limit; littlefs-python's CLI default, and what Zephyr's littlefs is built with.
NAME_MAX = 255
#: read/prog size of Ocre's fstab node (``read-size``/``prog-size`` = 256).
PROG_SIZE = 256
_LFS_NOSPC = -28
_LFS_NOENT = -2


@dataclass(frozen=True)
class ImageEntry:
    """One container image stored in the partition."""

    name: str
    size: int
    sha256: str
    autostart: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lfs_config(geometry: Geometry, block_count: int | None = None) -> dict[str, Any]:
    """littlefs settings matching the firmware's fstab node (read/prog 256 B).

    Read and prog sizes are not stored on disk, but the prog size decides how commits are padded:
    littlefs-python's default (prog = block) pads every metadata commit to a whole block, so each
    change compacts a directory pair and rewrites both its blocks. With the device's 256 B a commit
    appends to the current block, and an update rewrites one metadata block instead of two.
    """
    prog = min(max(PROG_SIZE, geometry.write_block), geometry.erase_block)
    return {
        "block_size": geometry.erase_block,
        "block_count": geometry.block_count if block_count is None else block_count,
        "read_size": prog,
        "prog_size": prog,
        "cache_size": geometry.erase_block,
        "name_max": NAME_MAX,
    }


def _check_name(name: str) -> str:
    if (
        not name
        or name.startswith(".")
        or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789._-" for c in name)
    ):
        raise InvalidInput.field(None, "image name", name, "[a-z0-9._-], not starting with '.'")
    return name


class Partition:
    """A mounted, editable LittleFS image of one storage partition. Add, then :meth:`to_bytes`."""

    def __init__(self, fs: Any, buffer: bytearray, geometry: Geometry, *, source: str) -> None:
        self._fs = fs
        self._buffer = buffer
        self.geometry = geometry
        self.source = source

    # -- factories -------------------------------------------------------------------------------
    @classmethod
    def new(cls, geometry: Geometry) -> Partition:
        """A freshly formatted partition with Ocre's directories (the one place that formats)."""
        from littlefs import LittleFS, UserContext

        buffer = bytearray(b"\xff" * geometry.size)
        fs = LittleFS(context=UserContext(buffer=buffer), mount=False, **_lfs_config(geometry))
        fs.format()
        fs.mount()
        part = cls(fs, buffer, geometry, source="<new>")
        part._ensure_layout()
        return part

    @classmethod
    def from_bytes(cls, data: bytes, geometry: Geometry, *, source: str = "<bytes>") -> Partition:
        """Mount an existing image; raise (never format) when it is not LittleFS with this geometry."""
        from littlefs import LittleFS, LittleFSError, UserContext

        if len(data) != geometry.size:
            raise DeployError(
                f"{source}: image is {len(data)} bytes, the storage partition is {geometry.size} bytes",
                hint="use --replace to start a fresh image, or check the board/build directory",
            )
        buffer = bytearray(data)
        fs = LittleFS(context=UserContext(buffer=buffer), mount=False, **_lfs_config(geometry))
        try:
            fs.mount()
        except LittleFSError as exc:
            raise DeployError(
                f"{source}: not a LittleFS image with block size {geometry.erase_block} "
                f"and {geometry.block_count} blocks ({exc})",
                hint="use --replace to write a fresh image",
            ) from None
        if fs.block_count != geometry.block_count:
            raise DeployError(
                f"{source}: LittleFS has {fs.block_count} blocks, the partition {geometry.block_count}"
            )
        part = cls(fs, buffer, geometry, source=source)
        try:
            part._ensure_layout()
        except (LittleFSError, OSError) as exc:
            raise part._corrupt(exc) from None
        return part

    def _corrupt(self, exc: BaseException) -> DeployError:
        """A mounted image whose directories or files cannot be read: a corrupt (or foreign) image."""
        reason = f"{type(exc).__name__} {exc}".strip()
        return DeployError(
            f"{self.source}: the LittleFS image is corrupt ({reason})",
            hint="use --replace to write a fresh image, or 'ocre doctor --partition' to inspect it",
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], geometry: Geometry) -> Partition:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput.field(None, "partition image", str(p), "an existing storage.bin")
        return cls.from_bytes(p.read_bytes(), geometry, source=str(p))

    # -- edits -----------------------------------------------------------------------------------
    def _ensure_layout(self) -> None:
        for d in (ROOT, IMAGES_DIR, CONTAINERS_DIR):
            if not self._exists(d):
                self._fs.mkdir(d)

    def _exists(self, path: str) -> bool:
        from littlefs import LittleFSError

        try:
            self._fs.stat(path)
        except (FileNotFoundError, LittleFSError) as exc:
            if isinstance(exc, LittleFSError) and exc.code != _LFS_NOENT:
                raise
            return False
        return True

    def add_image(self, name: str, data: bytes, *, replace: bool = True) -> bool:
        """Store ``data`` as ``ocre/images/<name>``; returns False when an identical file is already there.

        An unchanged file is not rewritten, so redeploying the same container changes no block.
        """
        from littlefs import LittleFSError

        path = posixpath.join(IMAGES_DIR, _check_name(name))
        if self._exists(path):
            if self.read_image(name) == data:
                return False
            if not replace:
                raise DeployError(f"{self.source}: image '{name}' already exists", hint="use --replace")
            self._fs.remove(path)
        try:
            with self._fs.open(path, "wb") as fh:
                fh.write(data)
        except LittleFSError as exc:
            if getattr(exc, "code", None) == _LFS_NOSPC:
                self._raise_overflow(extra={name: data})
            raise
        return True

    def remove_image(self, name: str) -> None:
        path = posixpath.join(IMAGES_DIR, _check_name(name))
        if not self._exists(path):
            raise DeployError(f"{self.source}: no image '{name}' in the partition")
        self._fs.remove(path)

    def read_image(self, name: str) -> bytes:
        with self._fs.open(posixpath.join(IMAGES_DIR, name), "rb") as fh:
            return bytes(fh.read())

    def set_autostart(self, entries: Iterable[autostart.AutostartEntry]) -> None:
        """Write the autostart file (or remove it when there are no entries)."""
        entries = list(entries)
        if not entries:
            if self._exists(AUTOSTART_FILE):
                self._fs.remove(AUTOSTART_FILE)
            return
        text = autostart.render(entries).encode()
        if self._exists(AUTOSTART_FILE):
            with self._fs.open(AUTOSTART_FILE, "rb") as fh:
                if bytes(fh.read()) == text:
                    return
        with self._fs.open(AUTOSTART_FILE, "wb") as fh:
            fh.write(text)

    def autostart_entries(self) -> list[autostart.AutostartEntry]:
        from littlefs import LittleFSError

        try:
            if not self._exists(AUTOSTART_FILE):
                return []
            with self._fs.open(AUTOSTART_FILE, "rb") as fh:
                text = bytes(fh.read()).decode()
        except (LittleFSError, OSError, UnicodeDecodeError) as exc:
            raise self._corrupt(exc) from None
        return autostart.parse(text, source=f"{self.source}:/{AUTOSTART_FILE}")

    # -- reads -----------------------------------------------------------------------------------
    def images(self) -> list[ImageEntry]:
        from littlefs import LittleFSError

        started = {e.image for e in self.autostart_entries()}
        out = []
        try:
            for name in sorted(self._fs.listdir(IMAGES_DIR)):
                data = self.read_image(name)
                out.append(ImageEntry(name, len(data), hashlib.sha256(data).hexdigest(), name in started))
        except (LittleFSError, OSError) as exc:
            raise self._corrupt(exc) from None
        return out

    def extract(self, dest: str | os.PathLike[str]) -> list[Path]:
        """Copy the Ocre working directory (``ocre/`` in the volume) into ``dest``, as the firmware
        sees it: for host-side runs of the firmware glue against Ocre's POSIX build (docs/zephyr.md)."""
        from littlefs import LittleFSError

        out, root = [], Path(dest)
        try:
            for top, dirs, files in self._fs.walk(ROOT):
                rel = Path(posixpath.relpath(top, ROOT))
                for d in dirs:
                    (root / rel / d).mkdir(parents=True, exist_ok=True)
                for f in files:
                    with self._fs.open(posixpath.join(top, f), "rb") as fh:
                        atomic_write(root / rel / f, fh.read())
                    out.append(root / rel / f)
        except (LittleFSError, OSError) as exc:
            raise self._corrupt(exc) from None
        return out

    @property
    def used_bytes(self) -> int:
        return int(self._fs.used_block_count) * self.geometry.erase_block

    def to_bytes(self) -> bytes:
        """The image bytes (exactly the partition size); the volume stays mounted and editable."""
        self._fs.fs_mkconsistent()
        return bytes(self._buffer)

    def write(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        atomic_write(out, self.to_bytes())
        return out

    # -- overflow --------------------------------------------------------------------------------
    def _raise_overflow(self, extra: dict[str, bytes]) -> None:
        """One line with bytes needed vs available: measured by packing into an unbounded volume."""
        needed = measure(
            {**{e.name: self.read_image(e.name) for e in self._safe_images()}, **extra},
            self.geometry,
            autostart_text=None,
        )
        g = self.geometry
        largest = max((len(d) for d in extra.values()), default=0)
        fits = capacity(g, largest) if largest else 0
        raise DeployError(
            f"containers do not fit: need {needed} bytes, storage partition has {g.size} bytes "
            f"({g.block_count} blocks of {g.erase_block}) at {g.address:#x}; "
            f"it holds {fits} container(s) of {largest} bytes",
            hint="remove images with --replace, use the board's external flash (--medium external / "
            "storage.medium), or grow storage_partition in the board overlay",
        )

    def _safe_images(self) -> list[ImageEntry]:
        try:
            return self.images()
        except Exception:  # a half-written file after NOSPC: count what is readable
            return []


def measure(images: dict[str, bytes], geometry: Geometry, *, autostart_text: str | None = None) -> int:
    """Bytes a set of images takes in a LittleFS volume with this erase block (unbounded size)."""
    from littlefs import LittleFS

    total = sum(len(d) for d in images.values())
    blocks = 16 + 2 * (total // geometry.erase_block + len(images) + 8)
    fs = LittleFS(**_lfs_config(geometry, block_count=blocks))
    for d in (ROOT, IMAGES_DIR, CONTAINERS_DIR):
        fs.mkdir(d)
    for name, data in images.items():
        with fs.open(posixpath.join(IMAGES_DIR, name), "wb") as fh:
            fh.write(data)
    if autostart_text:
        with fs.open(AUTOSTART_FILE, "wb") as fh:
            fh.write(autostart_text.encode())
    return int(fs.used_block_count) * geometry.erase_block


def capacity(geometry: Geometry, image_size: int) -> int:
    """How many containers of ``image_size`` bytes an empty partition of ``geometry`` holds.

    LittleFS costs more than the bytes: two blocks per directory (Ocre's three plus the root), and
    each file rounds up to whole blocks, so a 64 KiB partition with 8 KiB blocks holds no 28 KB
    container at all. Measured by packing, not estimated.
    """

    def fits(n: int) -> bool:
        return measure({f"c{i}.wasm": b"\xa5" * image_size for i in range(n)}, geometry) <= geometry.size

    lo, hi = 0, geometry.size // max(image_size, 1) + 1  # fits(lo); hi is an upper bound
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def build_image(
    images: dict[str, bytes],
    geometry: Geometry,
    *,
    previous: bytes | None = None,
    replace: bool = False,
    autostart_entries: Iterable[autostart.AutostartEntry] = (),
    progress: Progress | None = None,
) -> Partition:
    """Pack ``images`` (name → wasm bytes) into a partition, keeping ``previous``'s images unless ``replace``.

    With ``replace`` the volume starts empty; otherwise a new image of the same name overwrites the old
    one and every other image stays. Raises :class:`DeployError` with needed vs available bytes when the
    result does not fit.
    """
    part = (
        Partition.new(geometry) if previous is None or replace else Partition.from_bytes(previous, geometry)
    )
    kept = {e.name: e for e in part.autostart_entries()}
    for i, (name, data) in enumerate(sorted(images.items())):
        part.add_image(name, data, replace=True)
        if progress:
            progress(i + 1, len(images))
    new_entries = list(autostart_entries)
    for e in new_entries:
        kept[e.name] = e
    present = {e.name for e in part.images()}
    part.set_autostart(e for e in kept.values() if e.image in present)
    return part


def detect_geometry(data: bytes, *, address: int = 0, source: str = "<bytes>") -> Geometry:
    """Recover the block size of a bare ``storage.bin`` from its superblock, for ``deploy --list FILE``.

    A wrong block size can mount and show an empty root, so a candidate counts only when littlefs
    mounts *and* the superblock's own block size and count match the candidate and the file length.
    """
    from littlefs import LittleFS, LittleFSError, UserContext

    for shift in range(7, 17):  # 128 B .. 64 KiB
        bs = 1 << shift
        if len(data) % bs or len(data) < 2 * bs:
            continue
        fs = LittleFS(
            context=UserContext(buffer=bytearray(data)),
            mount=False,
            block_size=bs,
            block_count=0,
            name_max=NAME_MAX,
        )
        try:
            fs.mount()
            stat = fs.fs_stat()
        except LittleFSError:
            continue
        if stat.block_size == bs and stat.block_count * bs == len(data):
            return Geometry(address=address, size=len(data), erase_block=bs, source=source)
    raise DeployError(
        f"{source}: no LittleFS superblock for any block size from 128 B to 64 KiB",
        hint="pass -b BOARD or -d BUILD_DIR so the geometry comes from the board",
    )


class LittleFSFormat:
    """Ocre's standard layout (``littlefs``): ``ocre/images``, ``ocre/containers``, ``ocre/autostart``
    in a LittleFS volume the Ocre core mounts; updated in place, so deploys are incremental."""

    name: ClassVar[str] = "littlefs"
    incremental: ClassVar[bool] = True
    accepts_aot: ClassVar[bool] = True  # CONFIG_OCRE_WAMR_AOT firmware loads them

    def wamr(self, build_dir: Path | None) -> WamrBuild:
        return wamr.OCRE_CORE

    def geometry(self, *, board: Board | None, build_dir: Path | None, medium: str | None) -> Geometry:
        if build_dir is not None and bdir.zephyr_dts(build_dir).is_file():
            return bdir.storage_geometry(build_dir)
        if board is None:
            raise InvalidInput.field(None, "target", "", "-b BOARD or -d BUILD_DIR of a known board")
        return geo.from_board(board, medium=medium)

    def pack(
        self,
        images: Mapping[str, bytes],
        geometry: Geometry,
        *,
        entries: Sequence[autostart.AutostartEntry],
        previous: bytes | None,
        progress: Progress | None,
    ) -> Packed:
        part = build_image(
            dict(images), geometry, previous=previous, autostart_entries=entries, progress=progress
        )
        return Packed(part.to_bytes(), part.used_bytes)

    def budget(self, data: bytes, board: Board | None) -> dict[str, Any] | None:
        return None  # fitting the partition is the whole budget, and pack enforces it

    def list(self, data: bytes, geometry: Geometry, *, source: str) -> list[dict[str, Any]]:
        return [e.to_dict() for e in Partition.from_bytes(data, geometry, source=source).images()]


register(LittleFSFormat())
