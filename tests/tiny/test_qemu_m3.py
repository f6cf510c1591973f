"""The flash-partition path on the exact target: a bare-metal Cortex-M3 firmware (not Zephyr) built
with arm-none-eabi-gcc from the same bundle.c, booted on qemu-system-arm -M lm3s6965evb with the
bundle placed at 0x30000 by QEMU's loader device. It walks the bundle in place from flash and prints
each entry's name, size and SHA-256 check over UART0; its exit status comes back via semihosting."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from ocre_py.zephyr.storage import bundle as b
from ocre_py.zephyr.tiny.profile import QEMU_CORTEX_M3
from tests.tiny.conftest import BUNDLE_ADDR, FIRMWARE_DIR, run_qemu
from tests.tiny.util import fix_crc, get_entry, set_header


def test_partition_address_matches_the_tiny_target_and_the_linker_script() -> None:
    assert QEMU_CORTEX_M3.bundle_addr == BUNDLE_ADDR
    ld = (FIRMWARE_DIR / "link.ld").read_text()
    assert "LENGTH = 0x30000" in ld and "BUNDLE (r)  : ORIGIN = 0x00030000, LENGTH = 0x10000" in ld
    overlay = (FIRMWARE_DIR.parents[2] / "zephyr_app/src/tiny/boards/qemu_cortex_m3.overlay").read_text()
    assert "reg = <0x00030000 0x00010000>" in overlay and "reg = <0x00000000 0x00030000>" in overlay


def test_firmware_stays_below_the_bundle_partition(test_firmware: Path) -> None:
    from elftools.elf.elffile import ELFFile

    with test_firmware.open("rb") as fh:
        for seg in ELFFile(fh).iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]:
                assert seg["p_paddr"] + seg["p_filesz"] <= BUNDLE_ADDR


def _bundle(tmp_path: Path, containers: dict[str, Path]) -> tuple[Path, b.Bundle]:
    w = b.BundleWriter()
    w.add("hello", containers["hello"].read_bytes(), args=["world"])
    w.add("ticker", containers["ticker"].read_bytes(), flags=b.FLAG_OCRE_API)
    path = tmp_path / "bundle.bin"
    w.write(path, max_size=QEMU_CORTEX_M3.bundle_size)
    return path, b.read_bundle_file(path)


def test_firmware_walks_the_bundle_from_flash(test_firmware: Path, tiny_containers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, bundle = _bundle(tmp_path, tiny_containers)
    proc = run_qemu(test_firmware, path)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines[0] == "OCRE-BUNDLE at 0x00030000 size 65536"
    assert lines[1] == f"bundle ok count=2 size={bundle.total_size} crc={bundle.crc32:08x}"
    assert lines[2:4] == [f"entry {e.name} size={e.size} sha256={e.sha256} ok" for e in bundle.entries]
    assert lines[4] == "OCRE-BUNDLE done rc=0"


def test_firmware_refuses_a_corrupted_bundle(test_firmware: Path, tiny_containers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, _ = _bundle(tmp_path, tiny_containers)
    data = bytearray(path.read_bytes())
    data[1000] ^= 0x55
    path.write_bytes(bytes(data))
    proc = run_qemu(test_firmware, path)
    assert proc.returncode == 1
    assert "bundle refused: CRC-32 mismatch (corrupted)" in proc.stdout


def test_firmware_reports_a_sha256_mismatch(test_firmware: Path, tiny_containers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, bundle = _bundle(tmp_path, tiny_containers)
    data = bytearray(path.read_bytes())
    data[get_entry(bytes(data), 1, "module_off") + 100] ^= 1  # CRC fixed: only the SHA-256 sees it
    path.write_bytes(fix_crc(data))
    proc = run_qemu(test_firmware, path)
    assert proc.returncode == 2
    assert re.search(rf"entry hello size=\d+ sha256={bundle.entries[0].sha256} ok", proc.stdout)
    assert (
        f"entry ticker size={bundle.entries[1].size} sha256={bundle.entries[1].sha256} MISMATCH"
        in proc.stdout
    )


@pytest.mark.parametrize("case", ["empty-partition", "wrong-version"])
def test_firmware_refuses_no_or_foreign_bundle(case: str, test_firmware: Path, tmp_path: Path) -> None:
    path = None
    if case == "wrong-version":
        path = tmp_path / "v2.bin"
        path.write_bytes(set_header(b.BundleWriter().build(), "version", 2))
    proc = run_qemu(test_firmware, path)
    assert proc.returncode == 1
    reason = "no bundle (bad magic; partition empty?)" if path is None else "unsupported bundle version"
    assert f"bundle refused: {reason}" in proc.stdout


def test_sha256_in_c_matches_hashlib_on_the_target(test_firmware: Path, tmp_path: Path) -> None:
    """Lengths around the 55/56/64-byte padding edges, checked by the Cortex-M3 build of sha256.c."""
    w = b.BundleWriter()
    for n in (0, 47, 48, 55, 56, 63, 64, 119, 120, 1000):
        w.add(f"len{n}", b"\0asm\x01\0\0\0" + bytes(n))
    path = tmp_path / "sha.bin"
    w.write(path)
    proc = run_qemu(test_firmware, path)
    assert proc.returncode == 0, proc.stdout
    for n in (0, 47, 48, 55, 56, 63, 64, 119, 120, 1000):
        digest = hashlib.sha256(b"\0asm\x01\0\0\0" + bytes(n)).hexdigest()
        assert f"entry len{n} size={n + 8} sha256={digest} ok" in proc.stdout
