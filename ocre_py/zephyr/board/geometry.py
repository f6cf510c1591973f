"""Where the storage partition lives: absolute address, size and erase block, from ``zephyr.dts``.

The address is computed with the spec's safe algorithm rather than edtlib's translated ``regs``:
mapped partitions (``zephyr,mapped-partition``, ``ranges;``) and ``fixed-partitions`` translate
differently, and adding a base to an already translated address is the classic off-by-base bug.

1. find the node labelled ``storage_partition``;
2. offset = sum of the first ``reg`` address of the partition and every enclosing *partition* node,
   skipping ``partitions`` containers, decoded with the parent's ``#address-cells``;
3. base = the flash device node's ``reg`` address, translated through each ancestor's ``ranges``
   up to the first ancestor without ``ranges``;
4. address = base + offset, size = the partition's ``reg`` size;
5. erase block = the flash node's ``erase-block-size``, else 4096;
6. offset + size must fit in the flash and both must be multiples of the erase block.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from typing import Any

from ocre_py.errors import DeployError, InvalidInput
from ocre_py.zephyr.board import devicetree as dts

log = logging.getLogger(__name__)

STORAGE_LABEL = "storage_partition"
DEFAULT_ERASE_BLOCK = 4096


@dataclass(frozen=True)
class Geometry:
    """The storage partition as a flasher sees it. ``source`` says where the numbers came from."""

    address: int
    size: int
    erase_block: int
    write_block: int = 1
    offset: int = 0
    flash_base: int = 0
    flash_size: int | None = None
    label: str = STORAGE_LABEL
    source: str = ""
    #: CPU address where a loader (QEMU ``-device loader``) must put the image so the firmware sees
    #: it: the flash address for memory-mapped flash, the RAM behind a flash simulator's
    #: ``memory-region``, ``None`` for a simulator that erases itself at boot.
    load_address: int | None = None

    def __post_init__(self) -> None:
        where = self.source or "geometry"
        if self.erase_block <= 0 or self.erase_block & (self.erase_block - 1):
            raise InvalidInput.field(where, "erase block", self.erase_block, "a power of two")
        if self.size <= 0 or self.size % self.erase_block:
            raise InvalidInput.field(
                where,
                "partition size",
                self.size,
                f"a positive multiple of the erase block {self.erase_block}",
            )
        if self.offset % self.erase_block:
            raise InvalidInput.field(
                where,
                "partition offset",
                hex(self.offset),
                f"a multiple of the erase block {self.erase_block}",
            )
        if self.flash_size is not None and self.offset + self.size > self.flash_size:
            raise InvalidInput.field(
                where,
                "partition end",
                hex(self.offset + self.size),
                f"within the flash device ({hex(self.flash_size)} bytes)",
            )

    @property
    def block_count(self) -> int:
        return self.size // self.erase_block

    @property
    def end(self) -> int:
        return self.address + self.size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cells(node: Any, name: str) -> list[int]:
    prop = node.props.get(name)
    if prop is None:
        return []
    if getattr(prop, "error", None):
        raise InvalidInput(f"{prop.error} (property '{name}' of {_path(node)})")
    value: bytes = prop.value
    return [int.from_bytes(value[i : i + 4], "big") for i in range(0, len(value) - 3, 4)]


def _num(node: Any, name: str, default: int) -> int:
    cells = _cells(node, name)
    return cells[0] if cells else default


def _join(cells: list[int]) -> int:
    value = 0
    for c in cells:
        value = (value << 32) | c
    return value


def _cell_sizes(node: Any) -> tuple[int, int]:
    """``#address-cells``/``#size-cells`` a node declares for its children (devicetree defaults 2/1)."""
    return _num(node, "#address-cells", 2), _num(node, "#size-cells", 1)


def _first_reg(node: Any, source: str) -> tuple[int, int]:
    parent = node.parent
    na, ns = _cell_sizes(parent) if parent is not None else (2, 1)
    reg = _cells(node, "reg")
    if len(reg) < na + ns or na == 0:
        raise DeployError(f"{source}: node {_path(node)} has no usable 'reg' (needs {na}+{ns} cells)")
    return _join(reg[:na]), _join(reg[na : na + ns])


def _path(node: Any) -> str:
    return str(getattr(node, "path", getattr(node, "name", "?")))


def _is_partitions_container(node: Any) -> bool:
    return node.name == "partitions" or (node.name.startswith("partitions@") and "reg" not in node.props)


def _is_partition(node: Any) -> bool:
    compat = node.props.get("compatible")
    compat_text = compat.value.decode(errors="replace") if compat is not None else ""
    return (node.name.startswith("partition") and not _is_partitions_container(node)) or (
        "zephyr,mapped-partition" in compat_text
    )


def _translate(node: Any, address: int) -> int:
    """Translate ``address`` (in ``node``'s parent's space) up through ancestors' ``ranges``."""
    bus = node.parent
    while bus is not None and bus.parent is not None and "ranges" in bus.props:
        ranges = _cells(bus, "ranges")
        if ranges:
            child_na, size_ns = _cell_sizes(bus)
            parent_na, _ = _cell_sizes(bus.parent)
            step = child_na + parent_na + size_ns
            for i in range(0, len(ranges) - step + 1, step):
                child = _join(ranges[i : i + child_na])
                parent = _join(ranges[i + child_na : i + child_na + parent_na])
                length = _join(ranges[i + child_na + parent_na : i + step])
                if child <= address < child + length:
                    address = address - child + parent
                    break
        bus = bus.parent
    return address


def from_tree(tree: dts.Tree, *, label: str = STORAGE_LABEL) -> Geometry:
    """Apply the algorithm to a parsed tree (either back end)."""
    source = tree.source
    node = tree.label2node.get(label)
    if node is None:
        raise DeployError(
            f"{source}: no node labelled '{label}': the board needs a storage partition overlay",
            hint="add a storage_partition to the board overlay (see docs/deploy.md)",
        )
    _, size = _first_reg(node, source)
    offset = 0
    current: Any = node
    while current is not None and (_is_partition(current) or _is_partitions_container(current)):
        if "reg" in current.props and not _is_partitions_container(current):
            offset += _first_reg(current, source)[0]
        current = current.parent
    flash = current
    if flash is None or flash.parent is None:
        raise DeployError(f"{source}: '{label}' is not inside a flash device node")
    flash_addr, flash_size = _first_reg(flash, source)
    base = _translate(flash, flash_addr)
    erase = _num(flash, "erase-block-size", DEFAULT_ERASE_BLOCK)
    write = _num(flash, "write-block-size", 1)
    load_address: int | None = base + offset
    controller = flash.parent
    if "zephyr,sim-flash" in _strings(controller, "compatible"):
        region = _phandle(tree, controller, "memory-region")
        load_address = None
        if region is not None:
            region_addr = _translate(region, _first_reg(region, source)[0])
            load_address = region_addr + flash_addr + offset
    if "erase-block-size" not in flash.props:
        log.info("%s: %s declares no erase-block-size; using %d", source, _path(flash), erase)
    return Geometry(
        address=base + offset,
        size=size,
        erase_block=erase,
        write_block=write,
        offset=offset,
        flash_base=base,
        flash_size=flash_size or None,
        label=label,
        source=source,
        load_address=load_address,
    )


def _strings(node: Any, name: str) -> list[str]:
    prop = node.props.get(name) if node is not None else None
    if prop is None:
        return []
    return [s.decode(errors="replace") for s in prop.value.split(b"\0") if s]


def _phandle(tree: dts.Tree, node: Any, name: str) -> Any:
    prop = node.props.get(name)
    if prop is None:
        return None
    if isinstance(prop, dts.Prop):
        return tree.label2node.get(prop.refs[0]) if prop.refs else None
    return prop.to_node()  # Zephyr's dtlib


def from_board(board: Any, *, medium: str | None = None) -> Geometry:
    """Geometry from the board database when there is no build (``deploy -b BOARD`` without ``-d``).

    ``placement: append`` puts the partition at the end of the flash, as the overlay generator does.
    """
    spec = board.storage_for(medium)
    flash = board.flash
    sim = spec.placement == "sim-flash"
    base = spec.base if spec.base is not None else (0 if sim else flash.base)
    erase = spec.erase_block or flash.erase_block or DEFAULT_ERASE_BLOCK
    external = spec.base is not None
    flash_size = None if external or sim else flash.size
    offset = spec.offset if spec.offset is not None else (0 if sim else flash.size - spec.size)
    memory_mapped = not sim
    return Geometry(
        address=base + offset,
        size=spec.size,
        erase_block=erase,
        write_block=max(flash.write_block, 1),
        offset=offset,
        flash_base=base,
        flash_size=flash_size,
        source=f"board {board.name} ({spec.medium} flash)",
        load_address=base + offset if memory_mapped else None,
    )


def from_dts(path: str | os.PathLike[str], *, zephyr_base: str | os.PathLike[str] | None = None) -> Geometry:
    """Geometry from a ``zephyr.dts`` file (Zephyr's dtlib when ``$ZEPHYR_BASE`` has it)."""
    return from_tree(dts.load(path, zephyr_base=zephyr_base))
