"""Footprint on a real ARM ELF built here with arm-none-eabi-gcc: known sizes land in known components."""

from __future__ import annotations

import json
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from ocre_py.zephyr.firmware.footprint import analyze_elf, classify
from tests.conftest import require_program

SOURCES = {
    "wamr.c": """
        unsigned char wasm_runtime_heap[4096];                       /* .bss  -> wamr RAM 4096 */
        __attribute__((noinline)) int wasm_runtime_call(int x) { return x * 3 + wasm_runtime_heap[x]; }
        __attribute__((noinline)) int aot_lookup(int x) { return wasm_runtime_call(x) + 1; }
    """,
    "ocre.c": """
        int ocre_table[16] = {1, 2, 3};                              /* .data -> ocre ROM 64 + RAM 64 */
        __attribute__((noinline)) int ocre_container_start(int i) { return ocre_table[i & 15]++; }
    """,
    "kernel.c": """
        __attribute__((noinline)) void k_sleep(int t) { while (t--) __asm__ volatile("nop"); }
        unsigned int z_main_stack[256];                              /* .bss  -> kernel RAM 1024 */
    """,
    "bundle.c": """
        const unsigned char hello_wasm[1000] = {0x00, 0x61, 0x73, 0x6d}; /* .rodata -> containers 1000 */
        const unsigned int hello_wasm_len = sizeof(hello_wasm);           /* -> containers 4 */
    """,
    "main.c": """
        extern int aot_lookup(int); extern int ocre_container_start(int); extern void k_sleep(int);
        extern const unsigned char hello_wasm[]; extern const unsigned int hello_wasm_len;
        int main(void) {
            k_sleep(3);
            return aot_lookup(1) + ocre_container_start(2) + hello_wasm[hello_wasm_len - 1];
        }
        void _start(void) { main(); for (;;) {} }
    """,
}


@pytest.fixture(scope="module")
def arm_elf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = require_program("arm-none-eabi-gcc")
    d = tmp_path_factory.mktemp("fw")
    for name, text in SOURCES.items():
        (d / name).write_text(text)
    elf = d / "zephyr.elf"
    subprocess.run([cc, "-mcpu=cortex-m33", "-mthumb", "-Os", "-nostdlib", "-fno-common", "-Wl,-e,_start",
                    "-o", str(elf), *[str(d / n) for n in SOURCES]], check=True)  # fmt: skip
    return elf


def _section_totals(elf: Path) -> tuple[int, int]:
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    rom = ram = 0
    with elf.open("rb") as fh:
        for s in ELFFile(fh).iter_sections():
            if not s["sh_flags"] & SH_FLAGS.SHF_ALLOC:
                continue
            if s["sh_type"] != "SHT_NOBITS":
                rom += s["sh_size"]
            if s["sh_flags"] & SH_FLAGS.SHF_WRITE:
                ram += s["sh_size"]
    return rom, ram


def test_known_symbols_land_in_their_components(arm_elf: Path):
    fp = analyze_elf(arm_elf)
    c = fp.components
    assert c["containers"].rom == 1004 and c["containers"].ram == 0
    assert c["wamr"].ram == 4096 and c["wamr"].rom > 0
    assert (c["ocre"].ram, c["ocre"].rom > 64) == (64, True), "data counts in RAM and (initialiser) ROM"
    assert c["kernel"].ram == 1024 and c["kernel"].rom > 0
    assert c["app"].rom > 0
    assert (fp.rom_total, fp.ram_total) == _section_totals(arm_elf), "every allocated byte is counted once"


def test_footprint_cli_json_and_png(arm_elf: Path, ocre_cli, tmp_path: Path):
    png = tmp_path / "fp.png"
    r = ocre_cli("zephyr", "footprint", "--elf", str(arm_elf), "--json", "--png", str(png))
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["components"]["containers"] == {"rom": 1004, "ram": 0}
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", raw[16:24])
    assert width == 640 and height > 100
    idat = raw[raw.index(b"IDAT") + 4 : raw.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)


def test_footprint_table(arm_elf: Path, ocre_cli):
    r = ocre_cli("zephyr", "footprint", "--elf", str(arm_elf))
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[1].split() == ["COMPONENT", "ROM", "ROM%", "RAM", "RAM%"]
    assert lines[-1].split()[0] == "total"


def test_missing_build_dir_is_one_line(ocre_cli, tmp_path: Path):
    r = ocre_cli("zephyr", "footprint", "-d", str(tmp_path / "nope"))
    assert r.code == 1
    assert r.err.splitlines()[0] == f"ocre: error: no zephyr.elf in {tmp_path / 'nope'}"


@pytest.mark.parametrize(
    ("name", "component"),
    [("wasm_runtime_instantiate", "wamr"), ("ocre_context_create_container", "ocre"), ("z_swap", "kernel"),
     ("memcpy", "libc"), ("uart_stm32_init", "drivers"), ("lfs_mount", "subsys"), ("main", "app"),
     ("hello_wasm", "containers"), ("mystery", "other")],
)  # fmt: skip
def test_classification_rules(name: str, component: str):
    assert classify(name) == component


def _report(total: int, tree: list[dict[str, object]]) -> str:
    """A report in size_report's format (DictExporter of its anytree: name, size, identifier, children)."""
    size = sum(int(n["size"]) for n in tree)  # type: ignore[call-overload]
    hidden = {"name": "(hidden)", "identifier": "(hidden)", "size": total - size}
    return json.dumps({"symbols": {"name": "Root", "identifier": "root", "size": total,
                                   "children": [*tree, hidden]}, "total_size": total})  # fmt: skip


def _node(path: str, size: int) -> dict[str, object]:
    """Nested nodes down to a leaf, identifiers as size_report builds them (cumulative paths)."""
    parts = path.split("/")
    leaf: dict[str, object] = {"name": parts[-1], "identifier": path, "size": size}
    for i in range(len(parts) - 1, 0, -1):
        leaf = {"name": parts[i - 1], "identifier": "/".join(parts[:i]), "size": size, "children": [leaf]}
    return leaf


def test_zephyr_size_report_is_grouped_by_source_path(arm_elf: Path, tmp_path: Path, ocre_cli, monkeypatch):
    """In a workspace `footprint` prefers Zephyr's rom.json/ram.json (issue 11): source paths from
    DWARF decide the component; the (hidden) bytes are unattributed; names are the fallback."""
    from ocre_py.zephyr.firmware import size_report

    b = tmp_path / "build"
    (b / "zephyr").mkdir(parents=True)
    (b / "zephyr" / "zephyr.elf").write_bytes(arm_elf.read_bytes())
    (b / "CMakeCache.txt").write_text("ZEPHYR_TOOLCHAIN_VARIANT:STRING=gnuarmemb\n")
    wamr = "modules/lib/ocre-runtime/wasm-micro-runtime/core/iwasm/interpreter/wasm_loader.c/wasm_loader_load"
    rom = [
        {"name": "WORKSPACE", "identifier": "/ws", "size": 4500,
         "children": [_node(wamr, 4000), _node("ocre-toolkit/zephyr_app/src/main.c/main", 500)]},
        {"name": "ZEPHYR_BASE", "identifier": "/ws/zephyr", "size": 1300,
         "children": [_node("kernel/sched.c/z_ready_thread", 1000),
                      _node("lib/libc/minimal/string.c/memcpy", 300)]},
        {"name": "(no paths)", "identifier": ":", "size": 40, "children": [_node("k_sys_work_q", 40)]},
    ]  # fmt: skip
    ram = [_node("WORKSPACE/modules/lib/ocre-runtime/wasm-micro-runtime/x.c/pool", 2048)]
    (b / "rom.json").write_text(_report(6000, rom))
    (b / "ram.json").write_text(_report(2100, ram))
    monkeypatch.setattr(size_report, "make_reports", lambda build_dir: None)  # no Zephyr tree here
    r = ocre_cli("zephyr", "footprint", "-d", str(b), "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["source"] == "zephyr size_report" and data["note"] is None
    c = data["components"]
    assert (c["wamr"], c["app"], c["kernel"], c["libc"]) == (
        {"rom": 4000, "ram": 2048}, {"rom": 500, "ram": 0}, {"rom": 1040, "ram": 0}, {"rom": 300, "ram": 0},
    )  # fmt: skip
    assert data["unattributed"] == {"rom": 160, "ram": 52} and (data["rom_total"], data["ram_total"]) == (
        6000,
        2100,
    )


def test_footprint_falls_back_to_symbols_and_says_why(arm_elf: Path, tmp_path: Path, ocre_cli, monkeypatch):
    monkeypatch.delenv("ZEPHYR_BASE", raising=False)
    b = tmp_path / "build"
    (b / "zephyr").mkdir(parents=True)
    (b / "zephyr" / "zephyr.elf").write_bytes(arm_elf.read_bytes())
    r = ocre_cli("zephyr", "footprint", "-d", str(b))
    assert r.code == 0, r.err
    assert "(symbols)" in r.out.splitlines()[0]
    assert r.err.strip() == (
        "note: Zephyr's size report not used: no Zephyr tree (ZEPHYR_BASE unset); attributed by symbol names"
    )
