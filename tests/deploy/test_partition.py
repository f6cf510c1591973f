"""LittleFS partition images: round trips through littlefs-python, keep/replace, overflow, autostart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from littlefs import LittleFS, UserContext

from ocre_py.errors import DeployError
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.deploy import delta
from ocre_py.zephyr.storage import autostart
from ocre_py.zephyr.storage.littlefs import Partition, build_image, detect_geometry

U585 = Geometry(address=0x080F0000, size=512 * 1024, erase_block=8192, offset=0xF0000, flash_base=0x08000000)
SMALL = Geometry(address=0x080F0000, size=128 * 1024, erase_block=8192)


def _mount(data: bytes, g: Geometry) -> LittleFS:
    fs = LittleFS(context=UserContext(buffer=bytearray(data)), mount=False, block_size=g.erase_block,
                  block_count=g.block_count)  # fmt: skip
    fs.mount()
    return fs


def test_round_trip_layout_as_ocre_expects() -> None:
    wasm = os.urandom(20_000)
    data = build_image({"hello.wasm": wasm}, U585).to_bytes()
    assert len(data) == U585.size
    fs = _mount(data, U585)  # an independent mount, as the device would
    assert sorted(fs.listdir("ocre")) == ["containers", "images"]
    with fs.open("ocre/images/hello.wasm", "rb") as fh:
        assert fh.read() == wasm


def test_second_container_keeps_the_first_and_changes_few_blocks() -> None:
    a, b = os.urandom(20_000), os.urandom(9_000)
    first = build_image({"a.wasm": a}, U585).to_bytes()
    second = build_image({"b.wasm": b}, U585, previous=first).to_bytes()
    part = Partition.from_bytes(second, U585)
    assert [e.name for e in part.images()] == ["a.wasm", "b.wasm"]
    assert part.read_image("a.wasm") == a
    plan = delta.diff(first, second, address=U585.address, erase_block=U585.erase_block)
    # b.wasm needs 2 blocks; the rest is metadata: never the whole 64-block partition
    assert 2 <= plan.blocks_changed <= 6, plan.summary()


def test_same_image_again_changes_nothing() -> None:
    a = os.urandom(5000)
    first = build_image({"a.wasm": a}, U585).to_bytes()
    again = build_image({"a.wasm": a}, U585, previous=first).to_bytes()
    assert delta.diff(first, again, address=0, erase_block=8192).blocks_changed == 0


def test_new_version_replaces_same_name() -> None:
    first = build_image({"a.wasm": b"1" * 3000, "b.wasm": b"b" * 100}, U585).to_bytes()
    second = build_image({"a.wasm": b"2" * 4000}, U585, previous=first).to_bytes()
    part = Partition.from_bytes(second, U585)
    assert part.read_image("a.wasm") == b"2" * 4000
    assert [e.name for e in part.images()] == ["a.wasm", "b.wasm"]


def test_replace_starts_empty() -> None:
    first = build_image({"a.wasm": b"a" * 3000}, U585).to_bytes()
    second = build_image({"b.wasm": b"b" * 3000}, U585, previous=first, replace=True).to_bytes()
    assert [e.name for e in Partition.from_bytes(second, U585).images()] == ["b.wasm"]


def test_overflow_reports_needed_vs_available() -> None:
    with pytest.raises(DeployError) as exc:
        build_image({"big.wasm": os.urandom(200_000)}, SMALL)
    msg = str(exc.value)
    assert "\n" not in msg
    needed = int(msg.split("need ")[1].split(" bytes")[0])
    assert needed > SMALL.size
    assert "storage partition has 131072 bytes (16 blocks of 8192) at 0x80f0000" in msg


def test_u585_stock_partition_cannot_hold_ocre_tree_plus_a_file() -> None:
    stock = Geometry(address=0x080F0000, size=64 * 1024, erase_block=8192)
    with pytest.raises(DeployError, match="do not fit"):
        build_image({"hello.wasm": os.urandom(10_000)}, stock)


def test_autostart_file_written_through_the_shared_format() -> None:
    entry = autostart.AutostartEntry(
        "hello", "hello.wasm", args=("x",), env=(("A", "1"),), capabilities=("timer",)
    )
    part = build_image({"hello.wasm": b"\0asm" + b"\0" * 100}, U585, autostart_entries=[entry])
    fs = _mount(part.to_bytes(), U585)
    with fs.open("ocre/autostart", "rb") as fh:
        text = fh.read().decode()
    assert text.startswith("ocre-autostart 1\n")
    assert autostart.parse(text) == [entry]
    assert part.images()[0].autostart


def test_autostart_entries_survive_a_later_deploy() -> None:
    entry = autostart.AutostartEntry("a", "a.wasm")
    first = build_image({"a.wasm": b"a" * 10}, U585, autostart_entries=[entry]).to_bytes()
    second = build_image({"b.wasm": b"b" * 10}, U585, previous=first)
    assert [e.name for e in second.autostart_entries()] == ["a"]


def test_wrong_geometry_is_an_error_never_a_format() -> None:
    data = build_image({"a.wasm": b"a" * 10}, U585).to_bytes()
    other = Geometry(address=0, size=U585.size, erase_block=4096)
    with pytest.raises(DeployError, match="not a LittleFS image with block size 4096"):
        Partition.from_bytes(data, other, source="storage.bin")
    with pytest.raises(DeployError, match="image is 100 bytes"):
        Partition.from_bytes(b"\xff" * 100, U585)


def test_detect_geometry_from_superblock() -> None:
    data = build_image({"a.wasm": b"a" * 10}, U585).to_bytes()
    assert detect_geometry(data).erase_block == 8192
    with pytest.raises(DeployError, match="no LittleFS superblock"):
        detect_geometry(b"\xff" * 65536)


def test_bad_image_name_is_refused() -> None:
    from ocre_py.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"image name 'Hello\.wasm'"):
        build_image({"Hello.wasm": b"x"}, U585)


def test_write_is_atomic(tmp_path: Path) -> None:
    part = build_image({"a.wasm": b"a"}, U585)
    out = part.write(tmp_path / "storage.bin")
    assert out.read_bytes() == part.to_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["storage.bin"]
