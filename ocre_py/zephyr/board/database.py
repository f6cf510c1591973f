"""The board database: every supported board as a frozen :class:`Board` loaded from ``boards.yaml``.

A board is data (style guide: "boards as data"): flash geometry, RAM, where the storage partition
lives and in which devicetree style, runners, the pyocd target, the QEMU machine. Code reads fields
and never tests board names; adding a board is a YAML edit checked by ``boards.schema.yaml``.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import BoardError, NotFound
from ocre_py.names import did_you_mean
from ocre_py.yaml_schema import load_yaml, validate

log = logging.getLogger(__name__)

BOARDS_FILE = Path(__file__).with_name("boards.yaml")
SCHEMA_FILE = Path(__file__).with_name("boards.schema.yaml")
#: Repository root (holds zephyr_app/ and templates/); the west extension always runs from it.
REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class FlashGeometry:
    node: str
    base: int
    size: int
    erase_block: int
    write_block: int


@dataclass(frozen=True)
class StorageSpec:
    """Where a storage partition goes on one medium (internal or external flash)."""

    medium: str
    node: str
    placement: str  # existing | append | sim-flash | external
    style: str  # mapped | fixed
    size: int
    max_size: int
    offset: int | None = None
    base: int | None = None
    erase_block: int | None = None
    grow_flash: bool = False
    delete_internal: str | None = None


@dataclass(frozen=True)
class Board:
    """One supported board target (HWMv2 name, e.g. ``mps2/an521/cpu0``)."""

    name: str
    full_name: str
    vendor: str
    soc: str
    cpu: str
    arch: str
    type: str
    upstream: bool
    ram: int
    flash: FlashGeometry
    flash_driver: bool
    storage: dict[str, StorageSpec]
    default_medium: str
    runners: tuple[str, ...]
    pyocd_target: str | None = None
    pyocd_pack: str | None = None
    qemu_machine: str | None = None
    qemu_cpu: str | None = None
    board_dir: str | None = None
    alternative: str | None = None
    external_ram: int = 0  # bytes of external RAM (PSRAM) container memory can be placed in
    notes: str = ""
    checked_against: tuple[str, ...] = field(default=())

    @property
    def normalized(self) -> str:
        """File-name form of the target (``/`` → ``_``), as Zephyr names ``boards/<target>.conf``."""
        return self.name.replace("/", "_")

    @property
    def board_root(self) -> Path | None:
        """The ``BOARD_ROOT`` holding an out-of-tree board (the dir that contains ``boards/``)."""
        if not self.board_dir:
            return None
        return REPO_ROOT / self.board_dir.split("/boards/")[0]

    @property
    def default_runner(self) -> str | None:
        return self.runners[0] if self.runners else None

    def storage_for(self, medium: str | None) -> StorageSpec:
        medium = medium or self.default_medium
        try:
            return self.storage[medium]
        except KeyError:
            raise BoardError(
                f"board {self.name} has no {medium} flash for storage",
                hint=f"use storage.medium: {' or '.join(sorted(self.storage))}",
            ) from None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["normalized"] = self.normalized
        return d

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Board:
        storage_raw = dict(raw["storage"])
        default = storage_raw.pop("default")
        storage = {m: StorageSpec(medium=m, **spec) for m, spec in storage_raw.items()}
        if default not in storage:
            raise BoardError(f"{BOARDS_FILE}: {raw['name']}: storage.default {default!r} has no entry")
        pyocd = raw.get("pyocd") or {}
        qemu = raw.get("qemu") or {}
        return cls(
            name=raw["name"],
            full_name=raw["full_name"],
            vendor=raw["vendor"],
            soc=raw["soc"],
            cpu=raw["cpu"],
            arch=raw["arch"],
            type=raw["type"],
            upstream=raw["upstream"],
            ram=raw["ram"],
            flash=FlashGeometry(**raw["flash"]),
            flash_driver=raw["flash_driver"],
            storage=storage,
            default_medium=default,
            runners=tuple(raw["runners"]),
            pyocd_target=pyocd.get("target"),
            pyocd_pack=pyocd.get("pack"),
            qemu_machine=qemu.get("machine"),
            qemu_cpu=qemu.get("cpu"),
            board_dir=raw.get("board_dir"),
            alternative=raw.get("alternative"),
            external_ram=raw.get("external_ram", 0),
            notes=raw.get("notes", ""),
            checked_against=tuple(raw.get("checked_against", ())),
        )


def load_boards(path: Path = BOARDS_FILE) -> dict[str, Board]:
    """Every board in ``path``, validated against the schema; name → :class:`Board`, file order."""
    data = load_yaml(path, what="board database")
    validate(data, SCHEMA_FILE, source=str(path))
    boards: dict[str, Board] = {}
    for raw in data["boards"]:
        if raw["name"] in boards:
            raise BoardError(f"{path}: board {raw['name']} is listed twice")
        boards[raw["name"]] = Board.from_dict(raw)
    return boards


@functools.cache
def _default_boards() -> dict[str, Board]:
    return load_boards()


def all_boards() -> list[Board]:
    return list(_default_boards().values())


def get_board(name: str) -> Board:
    """The board called ``name``; unknown names fail with the list of known ones."""
    boards = _default_boards()
    try:
        return boards[name]
    except KeyError:
        guess = did_you_mean(name, boards)
        raise NotFound(
            f"unknown board '{name}'{f' ({guess})' if guess else ''}: expected one of {', '.join(boards)}",
            hint="'west ocre boards' lists them with their flash, RAM and runners",
        ) from None


def lookup_board(target: str) -> Board:
    """The database entry for a target, also for qualified forms (``b_u585i_iot02a/stm32u585xx/ns``)."""
    parts = target.split("/")
    for n in range(len(parts), 0, -1):
        try:
            return get_board("/".join(parts[:n]))
        except NotFound:
            continue
    return get_board(target)  # raises with the list
