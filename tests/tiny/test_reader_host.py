"""The C bundle reader (zephyr_app/src/bundle.c) on the host, under ASan + UBSan: it must read every
bundle the Python packer writes exactly as the Python reader does, and refuse every damaged one
without a crash. A differential hypothesis fuzz holds the two readers to the same verdicts."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocre_py.zephyr.storage import bundle as b
from tests.tiny.util import fix_crc, get_entry, module, set_entry, set_header

NAMES = st.from_regex(r"[a-z0-9_-][a-z0-9._-]{0,20}", fullmatch=True)
STRINGS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0"), max_size=12)


def pack(entries: list[dict]) -> bytes:
    w = b.BundleWriter()
    for e in entries:
        w.add(e["name"], e["module"], args=e.get("args", ()), env=e.get("env", ()), flags=e.get("flags", 0))
    return w.build()


CASES = {
    "empty": [],
    "hello": [{"name": "hello", "module": module(b"hello", 99), "args": ["world"], "env": ["GREETING=Hi"]}],
    "odd-sizes": [{"name": f"m{i}", "module": module(bytes([i]), i)} for i in range(7)],
    "quoting": [
        {"name": "q", "module": module(), "args": ['a"b', "c\\d", "tab\there", "é"], "env": ["A==B"]}
    ],
    "full": [{"name": f"c{i:02d}", "module": module(size=3), "flags": i % 2} for i in range(b.MAX_ENTRIES)],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_reader_prints_what_python_wrote(case: str, run_dump) -> None:  # type: ignore[no-untyped-def]
    data = pack(CASES[case])
    proc = run_dump(data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == b.read_bundle(data).describe()


def test_c_reader_reads_real_tiny_containers(tiny_containers, run_dump) -> None:  # type: ignore[no-untyped-def]
    w = b.BundleWriter()
    w.add("hello", tiny_containers["hello"].read_bytes(), args=["world"], env=["GREETING=Hi"])
    w.add("ticker", tiny_containers["ticker"].read_bytes(), args=["3", "20"], flags=b.FLAG_OCRE_API)
    data = w.build(max_size=0x10000)
    proc = run_dump(data, 0x10000)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == b.read_bundle(data).describe()


def _refusals() -> Iterator[tuple[str, bytes]]:
    base = pack(
        [
            {"name": "one", "module": module(b"1", 50), "args": ["x"]},
            {"name": "two", "module": module(b"2", 9)},
        ]
    )
    yield "bad-magic", b"OCRX" + base[4:]
    yield "wrong-version", set_header(base, "version", 2)
    yield "version-0", set_header(base, "version", 0)
    yield "header-size", set_header(base, "header_size", 64)
    yield "huge-count", set_header(base, "count", 0xFFFFFFFF)
    yield "count-past-table", set_header(base, "count", 3)
    yield "total-past-end", set_header(base, "total_size", len(base) + 4)
    yield "total-unaligned", set_header(base, "total_size", len(base) - 1)
    yield "total-wraps", set_header(base, "total_size", 0xFFFFFFFC)
    yield "data-offset-in-table", set_header(base, "data_offset", 40)
    yield "bad-crc", base[:-1] + bytes([base[-1] ^ 0x80])
    yield "crc-field", set_header(base, "crc32", 0, crc=False)
    m0, m1 = get_entry(base, 0, "module_off"), get_entry(base, 1, "module_off")
    yield "module-past-end", set_entry(base, 1, "module_size", 0xFFFFFFF0)
    yield "module-offset-wraps", set_entry(base, 1, "module_off", 0xFFFFFFFC)
    yield "module-unaligned", set_entry(base, 1, "module_off", m1 + 1)
    yield "module-in-strings", set_entry(base, 1, "module_off", 32)
    yield "overlapping-entries", set_entry(base, 1, "module_off", m0)
    yield "overlap-partial", set_entry(set_entry(base, 1, "module_off", m0 + 8), 1, "module_size", 50)
    yield "name-offset-wraps", set_entry(base, 0, "name_off", 0xFFFFFFFF)
    yield "name-len-huge", set_entry(base, 0, "name_len", 0xFFFFFFFF)
    yield "name-no-nul", set_entry(base, 0, "name_len", 4)
    yield "duplicate-name", set_entry(base, 1, "name_off", get_entry(base, 0, "name_off"))
    yield "args-count-wrong", set_entry(base, 0, "args_count", 2)
    yield "args-len-huge", set_entry(base, 0, "args_len", 0xFFFFFFFF)
    yield "args-offset-in-header", set_entry(base, 0, "args_off", 4)
    yield "env-without-bytes", set_entry(base, 1, "env_count", 1)
    yield "unknown-flag", set_entry(base, 0, "flags", 0x100)
    yield "reserved", set_entry(base, 0, "reserved", 1)
    tampered = bytearray(base)
    tampered[m1 + 8] ^= 0xFF  # module byte changed, CRC recomputed: only the SHA-256 catches it
    yield "sha256-mismatch", fix_crc(tampered)
    notwasm = bytearray(base)
    notwasm[m1 + 1 : m1 + 4] = b"aot"
    yield "not-wasm", fix_crc(notwasm)
    for cut in (0, 1, 31, 32, 33, 100, len(base) - 4):
        yield f"truncated-{cut}", base[:cut]


REFUSALS = dict(_refusals())


@pytest.mark.parametrize("case", list(REFUSALS))
def test_c_reader_refuses_damaged_bundles_without_a_crash(case: str, run_dump) -> None:  # type: ignore[no-untyped-def]
    data = REFUSALS[case]
    proc = run_dump(data)
    # ASan/UBSan abort with a non-1 status and a report on stderr; a clean refusal is rc 1.
    assert proc.returncode == 1, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.startswith("refused: ") and proc.stderr == ""
    with pytest.raises(b.BundleError):
        b.read_bundle(data)


def test_c_reader_bounds_by_the_partition_not_the_buffer(run_dump) -> None:  # type: ignore[no-untyped-def]
    data = pack([{"name": "a", "module": module(size=64)}])
    assert run_dump(data, len(data) - 4).returncode == 1  # total_size past the partition
    assert run_dump(data + b"\xff" * 64, len(data) + 64).returncode == 0


# ---------------------------------------------------------------------------------------------------
# Differential fuzz: one sanitized C process serves every example (length-prefixed on stdin).


class _Server:
    def __init__(self, exe: Path) -> None:
        self.proc = subprocess.Popen([str(exe), "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ask(self, data: bytes) -> list[str]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(struct.pack("<I", len(data)) + data)
        self.proc.stdin.flush()
        lines = []
        while (line := self.proc.stdout.readline().decode(errors="replace").rstrip("\n")) != "END":
            assert line or self.proc.poll() is None, f"C reader died (rc={self.proc.poll()})"
            lines.append(line)
        return lines

    def close(self) -> int:
        assert self.proc.stdin
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(bundle_dump: Path) -> Iterator[_Server]:
    srv = _Server(bundle_dump)
    yield srv
    assert srv.close() == 0, "sanitizer report or crash in the C reader"


def _verdict(data: bytes) -> list[str] | None:
    try:
        return b.read_bundle(data).describe()
    except b.BundleError:
        return None


ENV = STRINGS.map(lambda s: f"K{len(s)}={s}")
ENTRY = st.fixed_dictionaries(
    {"name": NAMES, "module": st.binary(max_size=40).map(lambda x: module(x)),
     "args": st.lists(STRINGS, max_size=3), "env": st.lists(ENV, max_size=2),
     "flags": st.sampled_from([0, 1])}
)  # fmt: skip


def _unique(entries: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for e in entries:
        seen.setdefault(e["name"], e)
    return list(seen.values())


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A packed bundle with 1–4 mutations aimed past the magic/version (the header fields, the entry
    table and the data), so most examples reach the entry checks rather than the first refusal."""
    data = bytearray(pack(_unique(draw(st.lists(ENTRY, min_size=1, max_size=4)))))
    table_end = min(len(data), 32 + 80 * struct.unpack_from("<I", data, 12)[0])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "word", "word", "word", "truncate", "extend"]))
        if kind == "flip":
            i = draw(st.integers(8, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "word":
            i = draw(st.integers(3, max(3, table_end // 4 - 1))) * 4
            value = draw(
                st.sampled_from(
                    [0, 1, 2, 3, 4, 8, 32, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFC, len(data), len(data) - 4]
                )
                | st.integers(0, len(data) + 8)
            )
            if i + 4 <= len(data):
                struct.pack_into("<I", data, i, value)
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))) :]
        else:
            data += bytes(draw(st.integers(1, 8)))
        if len(data) < 40:
            break
    # Usually fix the CRC so the structural checks behind it are what gets exercised.
    return fix_crc(data) if draw(st.integers(0, 4)) else bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged())
def test_fuzz_c_and_python_readers_agree(server: _Server, data: bytes) -> None:
    got = server.ask(data)
    expected = _verdict(data)
    if expected is None:
        assert len(got) == 1 and got[0].startswith("refused: "), got
    else:
        assert got == expected


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(ENTRY, max_size=5))
def test_fuzz_every_packed_bundle_round_trips(server: _Server, entries: list[dict]) -> None:
    data = pack(_unique(entries))
    assert server.ask(data) == b.read_bundle(data).describe()
