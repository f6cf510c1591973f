"""Storage geometry from devicetree fixtures in both partition styles (spec 4.3), with our reader.

The fixtures model real board files (b_u585i_iot02a, native_sim with Ocre's overlay, the U585 OSPI
NOR behind ``ranges``, a flash simulator with a ``memory-region``); where a Zephyr tree exists the
same files are read with Zephyr's own dtlib and must give identical geometry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ocre_py.errors import DeployError, InvalidInput
from ocre_py.zephyr.board import devicetree as dts
from ocre_py.zephyr.board import geometry
from ocre_py.zephyr.project import build_dir

DTS = Path(__file__).parent / "dts"

CASES = [
    pytest.param(
        "b_u585i_mapped.dts", 0x080F0000, 0x10000, 8192, 0xF0000, 0x08000000, 0x080F0000, id="mapped"
    ),
    pytest.param("b_u585i_fixed.dts", 0x080F0000, 0x80000, 8192, 0xF0000, 0x08000000, 0x080F0000, id="fixed"),
    pytest.param(
        "u585_ospi_external.dts", 0x70000000, 0x1000000, 4096, 0, 0x70000000, 0x70000000, id="ext-ranges"
    ),
    pytest.param("native_sim.dts", 0xFC000, 0x1000000, 4096, 0xFC000, 0, None, id="native-sim"),
    pytest.param("mps2_simflash.dts", 0x0, 0x10000, 1024, 0, 0, 0x203F0000, id="simflash-region"),
    pytest.param("nested_mapped.dts", 0x120000, 0x40000, 4096, 0x120000, 0, 0x120000, id="nested-mapped"),
]


@pytest.mark.parametrize(("fixture", "address", "size", "erase", "offset", "base", "load"), CASES)
def test_geometry_from_dts(fixture, address, size, erase, offset, base, load) -> None:
    g = geometry.from_dts(DTS / fixture, zephyr_base="")
    assert (g.address, g.size, g.erase_block, g.offset, g.flash_base, g.load_address) == (
        address,
        size,
        erase,
        offset,
        base,
        load,
    )
    assert g.block_count == size // erase


def test_write_block_read() -> None:
    assert geometry.from_dts(DTS / "b_u585i_mapped.dts", zephyr_base="").write_block == 16


def test_missing_storage_partition_names_the_fix() -> None:
    with pytest.raises(DeployError, match="storage partition overlay") as exc:
        geometry.from_dts(DTS / "no_storage.dts", zephyr_base="")
    assert "no_storage.dts" in str(exc.value)


def test_misaligned_partition_is_refused() -> None:
    with pytest.raises(
        InvalidInput, match=r"partition offset '0xf1000': expected a multiple of the erase block 8192"
    ):
        geometry.from_dts(DTS / "misaligned.dts", zephyr_base="")


def test_unexpanded_macro_fails_only_where_it_is_read() -> None:
    tree = dts.load(DTS / "macro.dts", zephyr_base="")  # parses: the bad value may never be needed
    assert tree.label2node["flash0"].props["dummy"].value == b"\x12\x34"  # /bits/ 8
    with pytest.raises(InvalidInput, match=r"macro\.dts:13: .*DT_SIZE_K.*preprocessed.*'reg' of /flash@0/"):
        geometry.from_dts(DTS / "macro.dts", zephyr_base="")


def test_missing_file() -> None:
    with pytest.raises(InvalidInput, match=r"zephyr\.dts"):
        geometry.from_dts(DTS / "nope.dts", zephyr_base="")


def test_sysbuild_default_domain(tmp_path: Path) -> None:
    app = tmp_path / "b" / "app"
    (app / "zephyr").mkdir(parents=True)
    (app / "zephyr" / "zephyr.dts").write_text((DTS / "native_sim.dts").read_text())
    (tmp_path / "b" / "domains.yaml").write_text(
        f"default: app\nbuild_dir: {tmp_path / 'b'}\ndomains:\n  - name: app\n    build_dir: {app}\n"
    )
    assert build_dir.storage_geometry(tmp_path / "b").address == 0xFC000


def test_reader_keeps_labels_and_delete_node() -> None:
    tree = dts.load(DTS / "u585_ospi_external.dts", zephyr_base="")
    assert "old_storage" not in tree.label2node
    assert tree.label2node["mx25lm51245"].props["reg"].to_nums() == [0, 0x4000000]
    assert tree.backend == "ocre"


def test_geometry_from_board_database() -> None:
    from ocre_py.zephyr.board.database import get_board

    g = geometry.from_board(get_board("b_u585i_iot02a"), medium="internal")
    assert (g.address, g.size, g.erase_block) == (0x080F0000, 0x10000, 8192)
    ext = geometry.from_board(get_board("b_u585i_iot02a"))  # the default, as upstream Ocre's overlays
    assert (ext.address, ext.size, ext.erase_block) == (0x70000000, 0x1000000, 4096)


@pytest.mark.zephyr
@pytest.mark.parametrize("fixture", [c.values[0] for c in CASES])
def test_dtlib_agrees(zephyr_base: Path, fixture: str) -> None:
    ours = geometry.from_dts(DTS / fixture, zephyr_base="")
    theirs = geometry.from_dts(DTS / fixture, zephyr_base=zephyr_base)
    assert ours == theirs
