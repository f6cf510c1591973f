"""Intel HEX addresses, the erase-block delta, and the incremental flasher (fake probe + real pyocd)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ocre_py.errors import DeployError, InvalidInput
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.deploy import delta, flasher
from ocre_py.zephyr.storage import hexfile
from ocre_py.zephyr.storage.littlefs import build_image

U585 = Geometry(address=0x080F0000, size=512 * 1024, erase_block=8192)


def test_hex_is_at_the_absolute_address(tmp_path: Path) -> None:
    data = bytes(range(256)) * 64
    path = hexfile.write_hex(tmp_path / "storage.hex", data, 0x080F0000)
    text = path.read_text()
    assert text.splitlines()[0] == ":02000004080FE3"  # extended linear address 0x080F
    assert text.splitlines()[1].startswith(":10000000")  # then offset 0 within it
    assert hexfile.read_hex(path) == {0x080F0000: data}


def test_hex_above_4g_region_external_flash(tmp_path: Path) -> None:
    path = hexfile.write_hex(tmp_path / "ext.hex", b"\x01\x02", 0x70000000)
    assert hexfile.read_hex(path) == {0x70000000: b"\x01\x02"}


def test_merged_hex_keeps_app_and_storage(tmp_path: Path) -> None:
    app = hexfile.write_hex(tmp_path / "zephyr.hex", b"\xaa" * 1024, 0x08000000)
    out = hexfile.merge_hex(tmp_path / "merged.hex", app, b"\xbb" * 512, 0x080F0000)
    assert hexfile.read_hex(out) == {0x08000000: b"\xaa" * 1024, 0x080F0000: b"\xbb" * 512}


def test_merged_hex_refuses_overlap(tmp_path: Path) -> None:
    app = hexfile.write_hex(tmp_path / "zephyr.hex", b"\xaa" * 0x20, 0x080F0000)
    with pytest.raises(DeployError, match="overlaps the storage partition at 0x80f0000"):
        hexfile.merge_hex(tmp_path / "merged.hex", app, b"\xbb" * 16, 0x080F0000)
    assert not (tmp_path / "merged.hex").exists()


def test_bad_hex_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hex"
    bad.write_text("not hex\n")
    with pytest.raises(InvalidInput, match=r"bad\.hex"):
        hexfile.read_hex(bad)


@pytest.mark.parametrize(
    ("changed_offsets", "blocks"),
    [
        pytest.param([], 0, id="none"),
        pytest.param([0], 1, id="first-byte"),
        pytest.param([8191, 8192], 2, id="straddles-boundary"),
        pytest.param([100, 200, 8000], 1, id="same-block"),
        pytest.param([0, 3 * 8192, 63 * 8192 + 5], 3, id="scattered"),
    ],
)
def test_delta_counts_synthetic_changes(changed_offsets: list[int], blocks: int) -> None:
    old = bytes(U585.size)
    new = bytearray(old)
    for off in changed_offsets:
        new[off] ^= 0xFF
    plan = delta.diff(old, bytes(new), address=U585.address, erase_block=8192)
    assert plan.blocks_changed == blocks
    assert plan.bytes_erased == blocks * 8192
    assert plan.bytes_skipped == (64 - blocks) * 8192


def test_delta_merges_adjacent_blocks_into_ranges() -> None:
    old = bytes(4 * 4096)
    new = bytearray(old)
    new[0] = new[4096] = new[3 * 4096] = 1
    plan = delta.diff(old, bytes(new), address=0x1000_0000, erase_block=4096)
    assert [(a, len(d)) for a, d in plan.ranges()] == [(0x1000_0000, 8192), (0x1000_3000, 4096)]


def test_delta_erased_block_is_not_programmed() -> None:
    old = b"\x00" * 8192 + b"\xff" * 8192
    new = b"\xff" * 8192 + b"\xff" * 8192
    plan = delta.diff(old, new, address=0, erase_block=8192)
    assert (plan.blocks_changed, plan.bytes_erased, plan.bytes_written) == (1, 8192, 0)


def test_delta_unknown_device_means_everything() -> None:
    assert delta.diff(None, b"\xff" * 16384, address=0, erase_block=8192).blocks_changed == 2


def test_delta_geometry_change_is_refused() -> None:
    with pytest.raises(DeployError, match="geometry changed"):
        delta.diff(b"\xff" * 8192, b"\xff" * 16384, address=0, erase_block=8192)


class FakeFlash:
    """A flash device over a bytearray that models sector erase and counts what it did."""

    def __init__(self, base: int, size: int, sector: int) -> None:
        self.base, self.sector = base, sector
        self.mem = bytearray(b"\xff" * size)
        self.erased = self.programmed = 0
        self.closed = False

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.mem[address - self.base : address - self.base + size])

    def program(self, ranges, progress) -> None:
        for address, data in ranges:
            off = address - self.base
            assert off % self.sector == 0 and len(data) % self.sector == 0, "sector-aligned only"
            self.erased += len(data)
            self.mem[off : off + len(data)] = data
            self.programmed += len(data)
        if progress:
            progress(1, 1)

    def close(self) -> None:
        self.closed = True


def test_incremental_flash_writes_only_changed_blocks() -> None:
    dev = FakeFlash(U585.address, U585.size, 8192)
    first = build_image({"a.wasm": os.urandom(30_000)}, U585).to_bytes()
    r1 = flasher.flash_incremental(dev, first, U585, last_deployed=None)
    assert dev.read(U585.address, U585.size) == first
    second = build_image({"b.wasm": os.urandom(8_000)}, U585, previous=first).to_bytes()
    dev.erased = 0
    r2 = flasher.flash_incremental(dev, second, U585, last_deployed=first)
    assert dev.read(U585.address, U585.size) == second
    assert r2.bytes_erased == dev.erased == r2.blocks_changed * 8192
    assert r2.blocks_changed <= 5 < r1.blocks_changed
    assert r2.verified_against_device


def test_incremental_flash_trusts_the_device_over_the_record() -> None:
    dev = FakeFlash(U585.address, U585.size, 8192)
    image = build_image({"a.wasm": b"a" * 100}, U585).to_bytes()
    stale = build_image({"zzz.wasm": b"z" * 100}, U585).to_bytes()  # what we *think* is there
    flasher.flash_incremental(dev, image, U585, last_deployed=stale)
    assert dev.read(U585.address, U585.size) == image


def test_runner_that_erases_the_chip_is_detected(tmp_path: Path) -> None:
    (tmp_path / "zephyr").mkdir()
    (tmp_path / "zephyr" / "runners.yaml").write_text(
        "flash-runner: stm32cubeprogrammer\nrunners: [stm32cubeprogrammer, openocd, pyocd]\n"
        "args:\n  stm32cubeprogrammer: [--port=swd, --reset-mode=hw, --erase]\n"
        "  pyocd: [--dt-flash=y, --target=stm32u585aiix]\n  openocd: []\n"
    )
    info = flasher.read_runner(tmp_path)
    assert info is not None and info.name == "stm32cubeprogrammer" and info.erases_whole_chip
    assert info.pyocd_target == "stm32u585aiix"
    assert not flasher.read_runner(tmp_path, "openocd").erases_whole_chip


def test_real_pyocd_without_a_probe_fails_fast(capfd: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    with pytest.raises(DeployError, match="no debug probe connected") as exc:
        flasher.open_pyocd("stm32u575zitx")
    assert time.monotonic() - started < 30
    assert exc.value.hint and "-o" in exc.value.hint
    assert "No connected debug probes" not in capfd.readouterr().out  # pyocd's own print is avoided
