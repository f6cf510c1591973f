"""QEMU runs for real: bare-metal firmware built here with arm-none-eabi-gcc, run by qemu-system-arm.

The firmware (``firmware/fw.c``) prints on UART0, reads back a blob that ``run --storage`` placed
with QEMU's loader device, and ends QEMU through semihosting, so every path of ``run`` is exercised:
ordered ``--expect`` matching, the firmware's exit status, timeout, mismatch and missing files.
"""

from __future__ import annotations

import json
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import require_program

FIRMWARE = Path(__file__).parent / "firmware"
#: machine → (board in the database, -D flags, where the firmware looks for the blob)
MACHINES = {
    "lm3s6965evb": ("qemu_cortex_m3", ["-DBLOB_ADDR=0x30000u"], 0x30000),
    "mps2-an385": ("mps2/an385", ["-DMACHINE_MPS2", "-DBLOB_ADDR=0x203F0000u"], 0x203F0000),
}


@pytest.fixture(scope="session")
def firmware(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    gcc = require_program("arm-none-eabi-gcc")
    out = tmp_path_factory.mktemp("firmware")
    built: dict[tuple[str, bool], Path] = {}

    def build(machine: str, *, hang: bool = False) -> Path:
        key = (machine, hang)
        if key not in built:
            elf = out / f"fw-{machine}{'-hang' if hang else ''}.elf"
            flags = MACHINES[machine][1] + (["-DHANG"] if hang else [])
            cmd = [
                gcc,
                "-mcpu=cortex-m3",
                "-mthumb",
                "-Os",
                "-nostdlib",
                "-ffreestanding",
                "-T",
                str(FIRMWARE / "link.ld"),
                *flags,
                str(FIRMWARE / "fw.c"),
                "-o",
                str(elf),
            ]
            subprocess.run(cmd, check=True, capture_output=True)
            built[key] = elf
        return built[key]

    return build


def blob(tmp_path: Path, text: bytes) -> Path:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"TBLB" + struct.pack("<I", len(text)) + text)
    return path


@pytest.fixture(autouse=True)
def _qemu() -> None:
    require_program("qemu-system-arm")


@pytest.mark.parametrize("machine", list(MACHINES))
def test_run_reads_back_the_loaded_blob(machine: str, firmware, tmp_path: Path) -> None:
    from ocre_py.zephyr.emulate import qemu

    addr = MACHINES[machine][2]
    result = qemu.run_elf(
        firmware(machine),
        machine=machine,
        cpu="cortex-m3",
        loads=[qemu.Load(blob(tmp_path, b"hello from flash"), addr)],
        expect=[f"^boot {machine}$", "^blob: hello from flash$", r"^sum: [0-9a-f]{8}$"],
        timeout=20,
    )
    assert result.ok, result.reason
    assert result.matched == 3
    assert "-device" in result.command and f"addr={addr:#x}" in " ".join(result.command)


def test_firmware_exit_status_through_semihosting(firmware) -> None:
    from ocre_py.zephyr.emulate import qemu

    result = qemu.run_elf(firmware("mps2-an385"), machine="mps2-an385", timeout=20)  # no blob: exits 3
    assert not result.ok
    assert result.exit_code == 3
    assert "no blob" in result.lines
    assert result.reason == "exited with code 3"


def test_timeout_names_the_pattern_it_waited_for(firmware) -> None:
    from ocre_py.zephyr.emulate import qemu

    result = qemu.run_elf(
        firmware("lm3s6965evb", hang=True),
        machine="lm3s6965evb",
        expect=["^boot", "never printed"],
        timeout=2,
    )
    assert not result.ok and result.timed_out
    assert result.reason == "timeout after 2 s (matched 1 of 2); waiting for 'never printed'"


def test_order_matters(firmware) -> None:
    from ocre_py.zephyr.emulate import qemu

    result = qemu.run_elf(
        firmware("lm3s6965evb"), machine="lm3s6965evb", expect=["done", "^boot"], timeout=20
    )
    assert not result.ok
    assert result.reason.startswith("exited with code 3 after matching 1 of 2; never saw '^boot'")


def test_cli_run_elf_with_board_storage_and_expect(firmware, tmp_path: Path, zephyr_cli) -> None:
    fw = firmware("mps2-an385")
    storage = blob(tmp_path, b"container bytes")
    r = zephyr_cli(
        "run",
        "--elf",
        fw,
        "-b",
        "mps2/an385",
        "--storage",
        storage,
        "--storage-addr",
        "0x203F0000",
        "--expect",
        "boot mps2",
        "--expect",
        "blob: container bytes",
        "--timeout",
        "20",
    )
    assert r.code == 0, r.err
    assert "blob: container bytes" in r.out


def test_cli_run_reports_mismatch_and_json(firmware, zephyr_cli) -> None:
    r = zephyr_cli(
        "run",
        "--elf",
        firmware("lm3s6965evb"),
        "-b",
        "qemu_cortex_m3",
        "--expect",
        "nope",
        "--timeout",
        "20",
        "--json",
    )
    assert r.code == 1
    assert "ocre: error: exited with code 3 after matching 0 of 1; never saw 'nope'" in r.err
    data = json.loads(r.out)
    assert data["ok"] is False and data["command"][0] == "qemu-system-arm"
    assert "-machine" in data["command"] and "lm3s6965evb" in data["command"]


def test_cli_run_sim_flash_without_region_needs_an_address(firmware, tmp_path: Path, zephyr_cli) -> None:
    r = zephyr_cli(
        "run", "--elf", firmware("mps2-an385"), "-b", "mps2/an385", "--storage", blob(tmp_path, b"x")
    )
    assert r.code == 1
    assert "storage cannot be preloaded" in r.err


def test_cli_run_build_dir_uses_dts_memory_region(firmware, tmp_path: Path, zephyr_cli) -> None:
    """A fake build dir: zephyr.elf + zephyr.dts (sim flash with memory-region) + the deployed storage."""
    b = tmp_path / "build"
    (b / "zephyr").mkdir(parents=True)
    (b / "zephyr" / "zephyr.elf").write_bytes(firmware("mps2-an385").read_bytes())
    (b / "zephyr" / "zephyr.dts").write_text(
        (Path(__file__).parent / "dts" / "mps2_simflash.dts").read_text()
    )
    (b / "CMakeCache.txt").write_text(
        "CACHED_BOARD:STRING=mps2/an385\nZEPHYR_TOOLCHAIN_VARIANT:STRING=zephyr\n"
    )
    (b / "ocre").mkdir()
    (b / "ocre" / "storage.bin").write_bytes(blob(tmp_path, b"from the build").read_bytes())
    r = zephyr_cli("run", "-d", b, "--expect", "blob: from the build", "--timeout", "20")
    assert r.code == 0, r.err


def test_missing_elf_is_one_line(zephyr_cli, tmp_path: Path) -> None:
    r = zephyr_cli("run", "--elf", tmp_path / "nope.elf", "-b", "mps2/an385")
    assert r.code == 2
    assert r.err.startswith("ocre: error: ELF '") and len(r.err.strip().splitlines()) == 1


def test_run_of_a_missing_build_dir_names_it(zephyr_cli, tmp_path: Path) -> None:
    """Issue 14: `west ocre run -d build` on a build that is not there blamed the board."""
    r = zephyr_cli("run", "-d", tmp_path / "build", "--expect", "x")
    assert r.code == 2
    assert r.err.splitlines()[0] == (
        f"ocre: error: build directory '{tmp_path / 'build'}': expected a Zephyr build (no CMakeCache.txt)"
    )
