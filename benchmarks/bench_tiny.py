"""Tiny-profile numbers for qemu_cortex_m3 with the hello container: the budget table (flash and RAM),
what WAMR's shrink saves, the bundle's size, and the time the bare-metal Cortex-M3 reader takes to
validate and hash the bundle in QEMU (boot → last UART line). ``run()`` returns the numbers; the
runner formats them. Estimates are labelled as such (see ocre_py.zephyr.tiny.profile); the module, bundle and
shrunk-memory sizes are measured on the real build.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ocre_py.image.tiny_module import analyse_module
from ocre_py.sdk.tiny import build_tiny
from ocre_py.zephyr.storage.bundle import BundleWriter, read_bundle
from ocre_py.zephyr.tiny.budget import budget
from ocre_py.zephyr.tiny.profile import QEMU_CORTEX_M3

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "zephyr_app" / "src"
FIRMWARE = REPO / "tests" / "tiny" / "firmware"


def _firmware(out: Path) -> Path | None:
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        return None
    srcs = [*sorted(FIRMWARE.glob("*.c")), SRC / "bundle.c", SRC / "tiny" / "sha256.c"]
    cmd = [gcc, "-std=c99", "-mcpu=cortex-m3", "-mthumb", "-Os", "-ffreestanding", "-nostdlib"]
    cmd += ["-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections", "-T", str(FIRMWARE / "link.ld")]
    cmd += [f"-I{SRC}", f"-I{SRC / 'tiny'}", *map(str, srcs), "-lgcc", "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def _qemu_walk_seconds(elf: Path, bundle: Path, repeat: int = 5) -> float | None:
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        return None
    cmd = [qemu, "-M", "lm3s6965evb", "-display", "none", "-monitor", "none", "-serial", "stdio"]
    cmd += ["-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    cmd += ["-device", f"loader,file={bundle},addr={QEMU_CORTEX_M3.bundle_addr:#x}"]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0 or "OCRE-BUNDLE done rc=0" not in proc.stdout:
            raise RuntimeError(f"bundle walk failed: {proc.stdout}")
    return statistics.median(times)


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-tiny-") as tmp:
        d = Path(tmp)
        hello = build_tiny([REPO / "examples" / "hello" / "hello.c"], d / "hello.wasm").output
        module = hello.read_bytes()
        writer = BundleWriter()
        writer.add("hello", module, args=["tiny"])
        data = writer.build(max_size=QEMU_CORTEX_M3.bundle_size)
        (d / "bundle.bin").write_bytes(data)
        plan = budget(QEMU_CORTEX_M3, read_bundle(data))
        mod = analyse_module(module, source="hello")
        elf = _firmware(d / "walk.elf")
        walk = _qemu_walk_seconds(elf, d / "bundle.bin") if elf else None
        return {
            "board": QEMU_CORTEX_M3.board,
            "hello_module_bytes": len(module),
            "hello_linear_memory_bytes (shrunk, measured)": mod.linear_memory,
            "hello_linear_memory_bytes (unshrunk page)": 65536,
            "bundle_bytes": len(data),
            "bundle_partition_bytes": QEMU_CORTEX_M3.bundle_size,
            "flash_firmware_bytes (estimate)": plan.flash_code,
            "flash_firmware_limit_bytes": QEMU_CORTEX_M3.code_size,
            "ram_fixed_bytes (estimate)": plan.ram_fixed,
            "ram_limit_bytes": QEMU_CORTEX_M3.ram_size,
            "wamr_pool_bytes": plan.pool,
            "hello_pool_need_bytes (estimate)": dict(plan.containers)["hello"],
            "fits": plan.fits,
            "table": [" | ".join(row) for row in plan.table()],
            "qemu_bundle_walk_seconds (boot to last line, median of 5)": walk,
        }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
