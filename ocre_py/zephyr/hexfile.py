"""Intel HEX output: the partition image at its absolute flash address, alone or merged with the app.

A ``.bin`` carries no address, so every runner would need ``--dt-flash``/``-a`` to place it; a
``.hex`` does (``west flash --hex-file storage.hex`` works with any runner). ``merged.hex`` joins
``zephyr.hex`` and the storage image for runners that erase the whole chip (b_u585i's default
``stm32cubeprogrammer --erase``): flashing both at once loses nothing. Overlap is an error, never
a silent overwrite: it means the partition table and the app disagree.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

from ocre_py.errors import DeployError, InvalidInput
from ocre_py.fsutil import atomic_write

log = logging.getLogger(__name__)


def _intelhex():  # type: ignore[no-untyped-def]
    from intelhex import IntelHex

    return IntelHex


def bin_to_hex(data: bytes, address: int) -> str:
    """Intel HEX text for ``data`` placed at ``address`` (extended linear address records as needed)."""
    ih = _intelhex()()
    ih.frombytes(data, offset=address)
    out = io.StringIO()
    ih.write_hex_file(out, write_start_addr=False)
    return out.getvalue()


def write_hex(path: str | os.PathLike[str], data: bytes, address: int) -> Path:
    out = Path(path)
    atomic_write(out, bin_to_hex(data, address))
    return out


def read_hex(path: str | os.PathLike[str]) -> dict[int, bytes]:
    """Contiguous segments of a HEX file: start address → bytes."""
    from intelhex import HexReaderError

    ih = _intelhex()()
    try:
        ih.loadhex(str(path))
    except (HexReaderError, OSError) as exc:
        raise InvalidInput.field(None, "hex file", str(path), f"a readable Intel HEX file ({exc})") from None
    return {start: bytes(ih.tobinarray(start=start, end=end - 1)) for start, end in ih.segments()}


def merge_hex(
    path: str | os.PathLike[str], app_hex: str | os.PathLike[str], data: bytes, address: int
) -> Path:
    """Write ``app_hex`` + the storage image at ``address`` as one HEX; refuse overlapping ranges."""
    atomic_write(path, merged_hex(app_hex, data, address))
    return Path(path)


def merged_hex(app_hex: str | os.PathLike[str], data: bytes, address: int) -> str:
    """The text of :func:`merge_hex`, for a caller that writes several files as one unit."""
    from intelhex import AddressOverlapError, HexReaderError

    IntelHex = _intelhex()
    app = IntelHex()
    try:
        app.loadhex(str(app_hex))
    except (HexReaderError, OSError) as exc:
        raise InvalidInput.field(
            None, "hex file", str(app_hex), f"a readable Intel HEX file ({exc})"
        ) from None
    storage = IntelHex()
    storage.frombytes(data, offset=address)
    try:
        app.merge(storage, overlap="error")
    except AddressOverlapError:
        raise DeployError(
            f"{app_hex} overlaps the storage partition at {address:#x}..{address + len(data):#x}",
            hint="the app and storage_partition overlap in the devicetree; fix the partition table",
        ) from None
    out = io.StringIO()
    app.write_hex_file(out)
    return out.getvalue()
