"""Incremental flashing plan: which erase blocks differ between the last deployed image and the new one.

Flash is erased a block at a time, so the block is the unit of work: a block whose bytes are
unchanged is skipped entirely; a changed block is erased, and only its non-0xFF bytes need
programming after the erase. Because the partition builder edits a littlefs volume in place
(copy-on-write), adding one container changes a handful of blocks, not the partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ocre_py.errors import DeployError

ERASED = 0xFF


@dataclass(frozen=True)
class BlockChange:
    """One erase block to rewrite: its index in the partition and absolute address."""

    index: int
    address: int
    data: bytes = field(repr=False)

    @property
    def erased(self) -> bool:
        """True when the new content is all 0xFF: erasing is enough, nothing to program."""
        return self.data.count(ERASED) == len(self.data)


@dataclass(frozen=True)
class Delta:
    """The plan and its cost; ``bytes_written`` counts the blocks programmed (erase granularity)."""

    address: int
    erase_block: int
    total_blocks: int
    changes: tuple[BlockChange, ...]

    @property
    def blocks_changed(self) -> int:
        return len(self.changes)

    @property
    def blocks_skipped(self) -> int:
        return self.total_blocks - len(self.changes)

    @property
    def bytes_erased(self) -> int:
        return len(self.changes) * self.erase_block

    @property
    def bytes_written(self) -> int:
        return sum(len(c.data) for c in self.changes if not c.erased)

    @property
    def bytes_skipped(self) -> int:
        return self.blocks_skipped * self.erase_block

    def ranges(self) -> list[tuple[int, bytes]]:
        """Runs of adjacent changed blocks merged: fewer, larger flash operations."""
        runs: list[tuple[int, bytearray]] = []
        for c in self.changes:
            if runs and runs[-1][0] + len(runs[-1][1]) == c.address:
                runs[-1][1].extend(c.data)
            else:
                runs.append((c.address, bytearray(c.data)))
        return [(a, bytes(d)) for a, d in runs]

    def summary(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "erase_block": self.erase_block,
            "blocks_total": self.total_blocks,
            "blocks_changed": self.blocks_changed,
            "blocks_skipped": self.blocks_skipped,
            "bytes_erased": self.bytes_erased,
            "bytes_written": self.bytes_written,
            "bytes_skipped": self.bytes_skipped,
            "changed_indices": [c.index for c in self.changes],
        }


def diff(old: bytes | None, new: bytes, *, address: int, erase_block: int) -> Delta:
    """Blocks of ``new`` that differ from ``old`` (``None``: unknown device content, every block)."""
    if len(new) % erase_block:
        raise DeployError(f"image size {len(new)} is not a multiple of the erase block {erase_block}")
    if old is not None and len(old) != len(new):
        raise DeployError(
            f"previous image is {len(old)} bytes, the new one {len(new)}: geometry changed",
            hint="flash the whole partition (--full)",
        )
    changes = []
    for i in range(len(new) // erase_block):
        lo, hi = i * erase_block, (i + 1) * erase_block
        if old is None or old[lo:hi] != new[lo:hi]:
            changes.append(BlockChange(i, address + lo, new[lo:hi]))
    return Delta(address, erase_block, len(new) // erase_block, tuple(changes))
