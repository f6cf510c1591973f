"""Rendered overlays and fragments: exact text, dtc parses them, every Kconfig symbol is known."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ocre_py.zephyr.board.database import Board, all_boards, get_board
from ocre_py.zephyr.firmware.render import app_board_files, kconfig_settings, render_kconfig, render_overlay
from ocre_py.zephyr.project.config import FEATURES, OcreConfig
from tests.conftest import require_program

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def _stub_base(board: Board, medium: str) -> str:
    """A minimal base devicetree with the nodes/labels the overlay refers to, shaped like the
    board's upstream devicetree (same node labels, partition style and storage offset)."""
    flash = board.flash
    spec = board.storage[medium]
    lines = ["/dts-v1/;", "/ {", "\t#address-cells = <1>;", "\t#size-cells = <1>;"]
    parts = ""
    if spec.placement == "existing" or (medium == "external" and spec.delete_internal):
        internal = board.storage.get("internal", spec)
        compat = '\t\t\tcompatible = "fixed-partitions";\n' if internal.style == "fixed" else ""
        ranges = "\t\t\tranges;\n" if internal.style == "mapped" else ""
        pcompat = '\t\t\t\tcompatible = "zephyr,mapped-partition";\n' if internal.style == "mapped" else ""
        off = internal.offset or 0
        parts = (
            f"\t\tpartitions {{\n{compat}\t\t\t#address-cells = <1>;\n\t\t\t#size-cells = <1>;\n{ranges}"
            f"\t\t\tstorage_partition: partition@{off:x} {{\n{pcompat}"
            f'\t\t\t\tlabel = "storage";\n\t\t\t\treg = <{off:#x} 0x4000>;\n\t\t\t}};\n\t\t}};\n'
        )
    storage_on_code = spec.node == flash.node
    lines.append(f'\t{flash.node}: flash@{flash.base:x} {{\n\t\tcompatible = "soc-nv-flash";\n'
                 f"\t\treg = <{flash.base:#x} {flash.size:#x}>;\n"
                 f"\t\t#address-cells = <1>;\n\t\t#size-cells = <1>;\n"
                 f"{parts if storage_on_code or medium == 'external' else ''}\t}};")  # fmt: skip
    if not storage_on_code and spec.placement == "existing":
        lines.append(f'\t{spec.node}: flash_sim@0 {{\n\t\tcompatible = "soc-nv-flash";\n'
                     f"\t\treg = <0 0x100000>;\n{parts}\t}};")  # fmt: skip
    if medium == "external":
        lines.append(f"\t{spec.node}: nor@90000000 {{\n\t\treg = <0x90000000 0x1000>;\n\t\tpartitions {{\n"
                     '\t\t\tcompatible = "fixed-partitions";\n\t\t\t#address-cells = <1>;\n'
                     "\t\t\t#size-cells = <1>;\n\t\t\tpartition@0 {\n\t\t\t\treg = <0x0 0x4000000>;\n"
                     "\t\t\t};\n\t\t};\n\t};")  # fmt: skip
    lines.append("};")
    return "\n".join(lines) + "\n"


def _dtc(text: str, tmp_path: Path) -> str:
    """Preprocess like Zephyr (cpp, assembler-with-cpp) then compile with the real dtc."""
    require_program("dtc")
    src = tmp_path / "in.dts"
    src.write_text(text)
    pre = subprocess.run(
        ["cpp", "-P", "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", str(src)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = subprocess.run(
        ["dtc", "-I", "dts", "-O", "dts", "-q"], input=pre.stdout, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr + "\n" + text
    return out.stdout


CASES = [(b.name, medium) for b in all_boards() for medium in b.storage]


@pytest.mark.parametrize(("board_name", "medium"), CASES)
def test_overlay_compiles_with_dtc(board_name: str, medium: str, tmp_path: Path):
    board = get_board(board_name)
    config = OcreConfig(storage_medium=medium)
    overlay = render_overlay(board, config)
    compiled = _dtc(_stub_base(board, medium) + overlay, tmp_path)
    layout_size = config.storage_size or board.storage[medium].size
    m = re.search(r"storage_partition: partition@([0-9a-f]+) \{(.*?)\};", compiled, re.S)
    assert m, compiled
    reg = re.search(r"reg = <(0x[0-9a-f]+) (0x[0-9a-f]+)>", m.group(2))
    assert reg and int(reg.group(2), 16) == layout_size
    assert int(m.group(1), 16) == int(reg.group(1), 16), "unit address matches reg"
    assert 'mount-point = "/lfs"' in compiled and "automount;" in compiled
    if board.storage[medium].style == "mapped":
        assert 'compatible = "zephyr,mapped-partition"' in m.group(2)
    else:
        assert "fixed-partitions" in compiled


def test_zephyr_app_fstab_overlay_merges_with_generated_one(tmp_path: Path):
    board = get_board("native_sim/native/64")
    base = _stub_base(board, "internal")
    text = base + (REPO / "zephyr_app" / "fstab.overlay").read_text() + render_overlay(board, OcreConfig())
    compiled = _dtc(text, tmp_path)
    assert compiled.count("lfs1: lfs1") == 1


def test_overlay_exact_text_for_an_appended_partition():
    expected = (DATA / "nucleo_u575zi_q.overlay").read_text()
    assert render_overlay(get_board("nucleo_u575zi_q"), OcreConfig(source="ocre.yml")) == expected


def test_kconfig_fragment_exact_text():
    expected = (DATA / "mps2_an521_cpu0.conf").read_text()
    cfg = OcreConfig(
        features={**dict.fromkeys(FEATURES, False), "timers": True, "messaging": True}, source="ocre.yml"
    )
    assert render_kconfig(get_board("mps2/an521/cpu0"), cfg) == expected


def _checked_symbols() -> set[str]:
    data = yaml.safe_load((DATA / "kconfig_symbols.yaml").read_text())
    return set(data["ocre"]) | set(data["app"]) | set(data["zephyr"])


def _symbols_in(text: str) -> set[str]:
    return set(re.findall(r"^(?:# )?CONFIG_([A-Z0-9_]+)", text, re.M))


def test_every_generated_kconfig_symbol_is_checked():
    known = _checked_symbols()
    used: set[str] = set()
    for board in all_boards():
        for medium in board.storage:
            for placement, combo in itertools.product(("internal", "external"), range(1 << len(FEATURES))):
                features = {f: bool(combo >> i & 1) for i, f in enumerate(FEATURES)}
                cfg = OcreConfig(features=features, storage_medium=medium, memory_placement=placement)
                used |= {sym for sym, _ in kconfig_settings(board, cfg)}
    assert used - known == set()


def test_every_checked_in_kconfig_symbol_is_checked():
    files = [REPO / "zephyr_app" / "prj.conf", *sorted((REPO / "zephyr_app" / "boards").rglob("*.conf")),
             *sorted((REPO / "zephyr_app" / "boards").rglob("*_defconfig")),
             REPO / "templates" / "zephyr_app" / "prj.conf.j2"]  # fmt: skip
    used = set().union(*(_symbols_in(f.read_text()) for f in files))
    assert used - _checked_symbols() == set()


def test_zephyr_app_board_files_match_the_renderer():
    """Tripwire: the checked-in boards/*.overlay|.conf are what the renderer produces."""
    for board in all_boards():
        for name, text in app_board_files(board, OcreConfig()).items():
            path = REPO / "zephyr_app" / "boards" / name
            if path.exists():
                assert path.read_text() == text, name
