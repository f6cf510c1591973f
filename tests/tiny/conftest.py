"""Real parts for the tiny-profile tests, built once per session: the C bundle reader compiled for the
host with ASan/UBSan, the bare-metal Cortex-M3 test firmware, and tiny-built example containers."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, require_program

SRC = REPO / "zephyr_app" / "src"
TINY_SRC = SRC / "tiny"
HERE = Path(__file__).parent
FIRMWARE_DIR = HERE / "firmware"
C_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
#: The bundle partition of qemu_cortex_m3 (ocre_py.zephyr.tiny.profile.QEMU_CORTEX_M3), as in
#: firmware/link.ld.
BUNDLE_ADDR = 0x30000
QEMU_TIMEOUT = 10


def _compile(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"


@pytest.fixture(scope="session")
def tiny_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-build")


@pytest.fixture(scope="session")
def bundle_dump(tiny_build_dir: Path) -> Path:
    """tests/tiny/c/bundle_dump.c + bundle.c + sha256.c, host gcc, -Werror, ASan + UBSan."""
    gcc = require_program("gcc")
    out = tiny_build_dir / "bundle_dump"
    srcs = [HERE / "c" / "bundle_dump.c", SRC / "bundle.c", TINY_SRC / "sha256.c"]
    _compile([gcc, *C_FLAGS, *SANITIZE, f"-I{SRC}", f"-I{TINY_SRC}", *map(str, srcs), "-o", str(out)])
    return out


@pytest.fixture(scope="session")
def host_natives_test(tiny_build_dir: Path) -> Path:
    """tests/tiny/c/test_timers.c + the tiny firmware's pure-C timer/event core, ASan + UBSan."""
    gcc = require_program("gcc")
    out = tiny_build_dir / "test_timers"
    srcs = [HERE / "c" / "test_timers.c", TINY_SRC / "timers.c"]
    _compile([gcc, *C_FLAGS, *SANITIZE, f"-I{TINY_SRC}", *map(str, srcs), "-o", str(out)])
    return out


@pytest.fixture(scope="session")
def test_firmware(tiny_build_dir: Path) -> Path:
    """The bare-metal lm3s6965evb firmware walking the bundle with the same bundle.c (not Zephyr)."""
    gcc = require_program("arm-none-eabi-gcc")
    out = tiny_build_dir / "bundle_walk.elf"
    srcs = [*sorted(FIRMWARE_DIR.glob("*.c")), SRC / "bundle.c", TINY_SRC / "sha256.c"]
    flags = ["-mcpu=cortex-m3", "-mthumb", "-Os", "-ffreestanding", "-nostdlib", "-ffunction-sections"]
    flags += ["-fdata-sections", "-Wl,--gc-sections", "-T", str(FIRMWARE_DIR / "link.ld")]
    _compile([gcc, *C_FLAGS, *flags, f"-I{SRC}", f"-I{TINY_SRC}", *map(str, srcs), "-lgcc", "-o", str(out)])
    return out


def run_qemu(firmware: Path, bundle: Path | None) -> subprocess.CompletedProcess[str]:
    """Boot ``firmware`` on QEMU lm3s6965evb with ``bundle`` at the partition address (loader device)."""
    qemu = require_program("qemu-system-arm")
    cmd = [qemu, "-M", "lm3s6965evb", "-display", "none", "-monitor", "none", "-serial", "stdio"]
    cmd += ["-semihosting-config", "enable=on,target=native", "-kernel", str(firmware)]
    if bundle is not None:
        cmd += ["-device", f"loader,file={bundle},addr={BUNDLE_ADDR:#x}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=QEMU_TIMEOUT, check=False)


@pytest.fixture(scope="session")
def tiny_containers(tiny_build_dir: Path) -> dict[str, Path]:
    """examples/hello and tests/tiny/containers/ticker.c built with ``ocre build --tiny``."""
    from ocre_py.sdk.tiny import build_tiny, tiny_options

    require_program("clang")
    out = {}
    # ticker also shows the --stack knob: 2 KiB of C stack is plenty for it and keeps it in the pool.
    for name, src, stack in (
        ("hello", REPO / "examples" / "hello" / "hello.c", 4096),
        ("ticker", HERE / "containers" / "ticker.c", 2048),
    ):
        out[name] = tiny_build_dir / f"{name}.wasm"
        build_tiny([src], out[name], tiny_options(stack_size=stack))
    return out


@pytest.fixture
def run_dump(bundle_dump: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(data: bytes, avail: int | None = None) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "bundle.bin"
        path.write_bytes(data)
        argv = [str(bundle_dump), str(path)] + ([str(avail)] if avail is not None else [])
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)

    return run


__all__ = ["BUNDLE_ADDR", "run_qemu", "shutil"]
