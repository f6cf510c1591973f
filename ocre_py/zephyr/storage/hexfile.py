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


def _storage_hex(data: bytes, address: int, erase_block: int | None):  # type: ignore[no-untyped-def]
    """``data`` at ``address`` as an IntelHex object, leaving out erase blocks that are all 0xFF.

    A partition image is mostly erased flash; writing it whole made a 16 MiB OSPI partition a 46 MB
    HEX that took 23 s to write. An omitted block is left as it is on the device, which is safe for
    both formats: LittleFS only reads blocks its directory tree references (and erases a block
    before it programs it), and the bundle reader stops at the bundle's recorded length.
    """
    ih = _intelhex()()
    step = erase_block or len(data) or 1
    for off in range(0, len(data), step):
        block = data[off : off + step]
        if erase_block is None or block.count(0xFF) != len(block):
            ih.frombytes(block, offset=address + off)
    return ih


def bin_to_hex(data: bytes, address: int, *, erase_block: int | None = None) -> str:
    """Intel HEX text for ``data`` placed at ``address`` (extended linear address records as needed);
    with ``erase_block``, erased (all 0xFF) blocks are left out (:func:`_storage_hex`)."""
    out = io.StringIO()
    _storage_hex(data, address, erase_block).write_hex_file(out, write_start_addr=False)
    return out.getvalue()


def write_hex(
    path: str | os.PathLike[str], data: bytes, address: int, *, erase_block: int | None = None
) -> Path:
    out = Path(path)
    atomic_write(out, bin_to_hex(data, address, erase_block=erase_block))
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


def read_image(path: str | os.PathLike[str], address: int, size: int) -> bytes:
    """The ``size`` bytes at ``address`` of a HEX file, erased (0xFF) where it has no data: the
    partition image a storage HEX stands for, since erased blocks are left out of it."""
    image = bytearray(b"\xff" * size)
    for start, chunk in read_hex(path).items():
        lo, hi = max(start, address), min(start + len(chunk), address + size)
        if lo < hi:
            image[lo - address : hi - address] = chunk[lo - start : hi - start]
    return bytes(image)


def merge_hex(
    path: str | os.PathLike[str],
    app_hex: str | os.PathLike[str],
    data: bytes,
    address: int,
    *,
    erase_block: int | None = None,
) -> Path:
    """Write ``app_hex`` + the storage image at ``address`` as one HEX; refuse overlapping ranges."""
    atomic_write(path, merged_hex(app_hex, data, address, erase_block=erase_block))
    return Path(path)


def merged_hex(
    app_hex: str | os.PathLike[str], data: bytes, address: int, *, erase_block: int | None = None
) -> str:
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
    storage = _storage_hex(data, address, erase_block)
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
