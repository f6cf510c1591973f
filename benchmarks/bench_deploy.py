"""Deploy benchmarks: packing 1 MiB of containers into a LittleFS partition (ours vs the
``littlefs-python create`` CLI Ocre's CMake uses, on the same tree), and the bytes an incremental
flash writes for a one-container update on b_u585i geometry (8 KiB erase blocks) versus the whole
partition. ``run()`` returns the numbers; the runner formats them.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.deploy import delta
from ocre_py.zephyr.storage.littlefs import build_image

MIB = 1024 * 1024
#: 2 MiB partition, 4 KiB blocks (external NOR / native_sim style) for the packing comparison.
PACK_GEOMETRY = Geometry(address=0x70000000, size=2 * MIB, erase_block=4096)
#: b_u585i_iot02a internal flash at 0x080F0000 with Ocre's "mini" overlay size (512 KiB), 8 KiB blocks.
U585_GEOMETRY = Geometry(
    address=0x080F0000, size=512 * 1024, erase_block=8192, offset=0xF0000, flash_base=0x08000000
)


def _containers(total: int, count: int, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    each = total // count
    return {f"app{i}.wasm": b"\0asm\x01\0\0\0" + rng.randbytes(each - 8) for i in range(count)}


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_pack(repeat: int = 5) -> dict[str, float]:
    images = _containers(MIB, 8, seed=1)
    ours = _median(lambda: build_image(images, PACK_GEOMETRY).to_bytes(), repeat)
    cli = shutil.which("littlefs-python") or str(Path(sys.executable).with_name("littlefs-python"))
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        (tree / "ocre" / "images").mkdir(parents=True)
        (tree / "ocre" / "containers").mkdir()
        for name, data in images.items():
            (tree / "ocre" / "images" / name).write_bytes(data)
        cmd = [cli, "create", "--block-size", str(PACK_GEOMETRY.erase_block), "--fs-size",
               str(PACK_GEOMETRY.size), str(tree), str(Path(tmp) / "out.bin")]  # fmt: skip
        theirs = _median(lambda: subprocess.run(cmd, check=True, capture_output=True), repeat)
    return {
        "pack_1mib_seconds": round(ours, 4),
        "littlefs_python_create_seconds": round(theirs, 4),
        "pack_speedup": round(theirs / ours, 1) if ours else 0.0,
    }


def bench_incremental() -> dict[str, float | int]:
    existing = _containers(240 * 1024, 6, seed=2)
    before = build_image(existing, U585_GEOMETRY).to_bytes()
    new = _containers(24 * 1024, 1, seed=3)
    new = {"update.wasm": next(iter(new.values()))}
    after = build_image(new, U585_GEOMETRY, previous=before).to_bytes()
    plan = delta.diff(before, after, address=U585_GEOMETRY.address, erase_block=U585_GEOMETRY.erase_block)
    erased = b"\xff" * U585_GEOMETRY.erase_block
    fresh = sum(1 for c in plan.changes if before[c.address - plan.address :][: len(erased)] == erased)
    return {
        "update_bytes_written": plan.bytes_erased,
        "update_blocks_changed": plan.blocks_changed,
        "update_new_file_blocks": fresh,  # blocks that were free: the new file's data and CTZ pointers
        "update_metadata_blocks": plan.blocks_changed - fresh,
        "partition_bytes": U585_GEOMETRY.size,
        "update_fraction_of_partition": round(plan.bytes_erased / U585_GEOMETRY.size, 3),
    }


def run() -> dict[str, float | int]:
    """All deploy numbers in one flat dict."""
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return {**bench_pack(), **bench_incremental()}


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k}: {v}")
