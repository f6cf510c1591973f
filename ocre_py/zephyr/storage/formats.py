"""Storage formats: how containers are laid out in a board's storage partition, by name.

``littlefs`` (:mod:`ocre_py.zephyr.storage.littlefs`) is what the Ocre core mounts; other formats
register themselves here (the tiny profile's ``bundle``, :mod:`ocre_py.zephyr.tiny.bundle_format`)
instead of being imported by the wings that use them, as Zephyr's runners register in a table their
callers read. Profiles are loaded on the first lookup of a name this table does not know yet
(:mod:`ocre_py.zephyr.plugins`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ocre_py.errors import InvalidInput
from ocre_py.image.wamr import WamrBuild
from ocre_py.progress import Progress
from ocre_py.zephyr import plugins
from ocre_py.zephyr.board.database import Board
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.storage.autostart import AutostartEntry


@dataclass(frozen=True)
class Packed:
    """A packed partition image: exactly the partition's size, and how many bytes are in use."""

    data: bytes
    used: int


class StorageFormat(Protocol):
    """One layout of containers in a partition. ``incremental`` formats update a previous image in
    place (only its changed erase blocks are flashed); the others are always packed whole."""

    name: ClassVar[str]
    incremental: ClassVar[bool]
    #: whether a WAMR AOT file may be stored (the firmware decides at load time)
    accepts_aot: ClassVar[bool]

    def wamr(self, build_dir: Path | None) -> WamrBuild:
        """The WAMR build that loads what this format holds (of ``build_dir`` when known): every
        module is checked against it before it is packed."""
        ...

    def geometry(self, *, board: Board | None, build_dir: Path | None, medium: str | None) -> Geometry:
        """Where the partition is: from the build's devicetree when there is one, else the board."""
        ...

    def pack(
        self,
        images: Mapping[str, bytes],
        geometry: Geometry,
        *,
        entries: Sequence[AutostartEntry],
        previous: bytes | None,
        progress: Progress | None,
    ) -> Packed:
        """Pack ``images`` (name → module), on top of ``previous`` for an incremental format (the
        caller passes None to the others). Raises :class:`ocre_py.errors.DeployError` if they do
        not fit."""
        ...

    def budget(self, data: bytes, board: Board | None) -> dict[str, Any] | None:
        """A format's own budget check of a packed image beyond fitting the partition (raises when
        it fails); its report, or None when the format has none."""
        ...

    def list(self, data: bytes, geometry: Geometry, *, source: str) -> list[dict[str, Any]]:
        """The containers in a packed image."""
        ...


FORMATS: dict[str, StorageFormat] = {}


def register(fmt: StorageFormat) -> StorageFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> StorageFormat:
    """The format called ``name``; :class:`InvalidInput` listing the known ones otherwise."""
    if name not in FORMATS:
        plugins.load()
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput.field(None, "storage format", name, " or ".join(sorted(FORMATS))) from None
