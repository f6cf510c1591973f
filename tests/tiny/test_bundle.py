"""The Python bundle writer and reader: layout, validation of what is added, refusal of bad bundles."""

from __future__ import annotations

import hashlib
import struct

import pytest

from ocre_py.errors import DeployError, InvalidInput
from ocre_py.zephyr.storage import bundle as b
from tests.tiny.util import module, set_entry, set_header


def make(*entries: tuple[str, bytes], **kw: object) -> bytes:
    w = b.BundleWriter()
    for name, mod in entries:
        w.add(name, mod, **kw)  # type: ignore[arg-type]
    return w.build()


def test_layout_is_little_endian_aligned_and_crc_covers_everything() -> None:
    data = make(("hello", module(b"x", 13)), ("two", module(b"y", 1)), args=["a", "b c"], env=["K=V"])
    magic, version, hsize, esize, _, count, total, data_off, crc, _ = struct.unpack_from("<4sHHHHIIIII", data)
    assert (magic, version, hsize, esize, count, total) == (b"OCRB", 1, 32, 80, 2, len(data))
    assert data_off % 4 == 0 and total % 4 == 0
    assert crc == b.crc32_of(data, total)
    parsed = b.read_bundle(data)
    for entry, off in zip(parsed.entries, parsed.offsets, strict=True):
        assert off % 4 == 0 and off >= data_off
        assert data[off : off + entry.size] == entry.module
    assert parsed.entries[0].args == ("a", "b c") and parsed.entries[0].env == ("K=V",)
    assert parsed.entries[1].sha256 == hashlib.sha256(module(b"y", 1)).hexdigest()


def test_empty_bundle_round_trips() -> None:
    parsed = b.read_bundle(b.BundleWriter().build())
    assert parsed.entries == () and parsed.total_size == 32


def test_reader_accepts_a_whole_partition_read_back() -> None:
    data = make(("hello", module(size=100)))
    parsed = b.read_bundle(data + b"\xff" * 4096, partition_size=len(data) + 4096)
    assert parsed.entries[0].name == "hello"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"name": "Hello"}, "container name 'Hello'", id="uppercase"),
        pytest.param({"name": ".hidden"}, "container name '.hidden'", id="leading-dot"),
        pytest.param({"name": "x" * 64}, "1..63 characters", id="too-long"),
        pytest.param({"env": ["NOEQUALS"]}, "env 'NOEQUALS': expected KEY=VALUE", id="env-no-equals"),
        pytest.param({"env": ["=v"]}, "env '=v'", id="env-empty-key"),
        pytest.param({"args": ["a\0b"]}, "no NUL", id="nul-in-arg"),
        pytest.param({"args": ["x"] * 33}, "args count 33", id="too-many-args"),
        pytest.param({"args": ["x" * 1024]}, "args bytes 1025", id="args-too-long"),
        pytest.param({"flags": 2}, "flags '0x2'", id="unknown-flag"),
        pytest.param({"module": b"\0aot\x01\0\0\0"}, "module header", id="not-wasm"),
    ],
)
def test_writer_refuses_bad_input_with_field_and_value(kwargs: dict[str, object], fragment: str) -> None:
    args = {"name": "ok", "module": module()} | kwargs
    with pytest.raises(InvalidInput, match=None) as info:
        b.BundleWriter().add(args.pop("name"), args.pop("module"), source="ocre.yml", **args)  # type: ignore[arg-type]
    assert fragment in str(info.value) and str(info.value).startswith("ocre.yml: ")


def test_writer_refuses_duplicates_and_too_many() -> None:
    w = b.BundleWriter()
    w.add("a", module())
    with pytest.raises(InvalidInput, match="unique within the bundle"):
        w.add("a", module())
    for i in range(b.MAX_ENTRIES - 1):
        w.add(f"c{i}", module())
    with pytest.raises(InvalidInput, match="container count 33"):
        w.add("last", module())


def test_build_refuses_a_bundle_over_the_partition_with_the_numbers(tmp_path) -> None:
    w = b.BundleWriter()
    w.add("big", module(size=70000))
    out = tmp_path / "bundle.bin"
    with pytest.raises(DeployError, match=r"is 70\d+ bytes: the partition holds 65536"):
        w.write(out, max_size=0x10000)
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        pytest.param(lambda d: d[:20], "truncated", id="truncated-header"),
        pytest.param(lambda d: d[:-4], "total_size", id="truncated-body"),
        pytest.param(lambda d: b"XXXX" + d[4:], "magic", id="magic"),
        pytest.param(lambda d: set_header(d, "version", 2), "version 2: expected 1", id="version"),
        pytest.param(lambda d: set_header(d, "count", 0xFFFFFFFF), "count 4294967295", id="huge-count"),
        pytest.param(lambda d: set_header(d, "data_offset", 6), "data_offset", id="data-offset"),
        pytest.param(lambda d: d[:-1] + bytes([d[-1] ^ 1]), "crc32", id="bad-crc"),
        pytest.param(
            lambda d: set_entry(d, 0, "module_off", 0xFFFFFFFC), "module (offset, size)", id="module-off"
        ),
        pytest.param(
            lambda d: set_entry(d, 0, "module_size", 0xFFFFFFFF), "module (offset, size)", id="module-size"
        ),
        pytest.param(lambda d: set_entry(d, 0, "module_off", 121), "module (offset, size)", id="unaligned"),
        pytest.param(lambda d: set_entry(d, 1, "module_off", 0), "module (offset, size)", id="into-header"),
        pytest.param(lambda d: set_entry(d, 0, "name_len", 0), "name (offset, length)", id="empty-name"),
        pytest.param(lambda d: set_entry(d, 0, "args_count", 5), "args strings", id="args-count"),
        pytest.param(lambda d: set_entry(d, 0, "flags", 0x80), "flags/reserved", id="flags"),
    ],
)
def test_reader_refuses_bad_bundles_naming_source_and_field(mutate, fragment: str) -> None:  # type: ignore[no-untyped-def]
    data = make(("one", module(b"1", 50)), ("two", module(b"2", 50)), args=["x", "y"])
    with pytest.raises(b.BundleError) as info:
        b.read_bundle(mutate(data), source="flash.bin")
    assert str(info.value).startswith("flash.bin: bundle ") and fragment in str(info.value)


def test_reader_refuses_overlapping_modules() -> None:
    data = make(("one", module(b"1", 50)), ("two", module(b"2", 50)))
    overlapped = set_entry(set_entry(data, 1, "module_off", 0), 1, "module_off", _off(data, 0))
    with pytest.raises(b.BundleError, match="no overlap"):
        b.read_bundle(overlapped)


def _off(data: bytes, i: int) -> int:
    from tests.tiny.util import get_entry

    return get_entry(data, i, "module_off")


def test_module_cli_packs_and_lists(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from ocre_py.cli.tiny_tools import main

    wasm = tmp_path / "hello.wasm"
    wasm.write_bytes(module(size=40))
    out = tmp_path / "b.bin"
    assert main(["bundle", "pack", "-o", str(out), "--arg", "world", "-e", "K=V", str(wasm)]) == 0
    assert main(["bundle", "list", str(out)]) == 0
    text = capsys.readouterr().out
    assert "entry hello off=" in text and 'args=["world"] env=["K=V"]' in text
    out.write_bytes(out.read_bytes()[:40])
    assert main(["bundle", "list", str(out)]) == 1
    assert "b.bin: bundle total_size" in capsys.readouterr().err
