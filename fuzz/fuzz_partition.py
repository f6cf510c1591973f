"""Fuzz the storage-partition reader: a LittleFS image from a device or a file, mounted and listed.

The seed is a real partition (Ocre layout, one image, an autostart file) packed by the toolkit; the
fuzzer corrupts it. Mounting must never format (the image is the user's data) and every failure
must be a DeployError/InvalidInput naming the geometry, not a LittleFSError or a decode error.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from fuzz._seeds import runnable_module
from ocre_py.doctor import check_partition
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.storage import autostart
from ocre_py.zephyr.storage.littlefs import Partition, detect_geometry

PARSER = "zephyr.partition.Partition.from_bytes / images / autostart_entries, detect_geometry; doctor"

GEOMETRY = Geometry(address=0, size=16 * 1024, erase_block=512, source="fuzz")
_TMP = Path(tempfile.mkdtemp(prefix="ocre-fuzz-partition-"))
atexit.register(shutil.rmtree, _TMP, True)


@functools.cache
def _seed() -> bytes:
    part = Partition.new(GEOMETRY)
    part.add_image("hello.wasm", runnable_module())
    part.set_autostart([autostart.AutostartEntry("hello", "hello.wasm", ("a",), (("K", "V"),))])
    return part.to_bytes()


def seeds() -> list[bytes]:
    return [b"\0" + _seed(), b"\1" + _seed(), b"\2" + _seed()]


def check(data: bytes) -> None:
    kind, body = (data[0] % 3, data[1:]) if data else (0, b"")
    if kind == 2:  # ocre doctor reports on any image and never raises
        path = _TMP / "storage.bin"
        path.write_bytes(body)
        for finding in check_partition(path, block_size=GEOMETRY.erase_block):
            assert "\n" not in finding.problem, finding
        return
    if kind == 1:
        geometry = detect_geometry(body, source="fuzz")
        assert geometry.size == len(body)
        return
    body = body[: GEOMETRY.size].ljust(GEOMETRY.size, b"\xff")
    part = Partition.from_bytes(body, GEOMETRY, source="fuzz")
    for entry in part.images():
        assert "/" not in entry.name
    part.autostart_entries()


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_partition"))
