"""`ocre zephyr init`: the generated app is complete, its ocre.yml round-trips, its board files match."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ocre_py.errors import Conflict
from ocre_py.zephyr.board.database import get_board
from ocre_py.zephyr.firmware.appgen import generate_app
from ocre_py.zephyr.firmware.render import app_board_files
from ocre_py.zephyr.project.config import OcreConfig, load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("board", ["nucleo_u585", "mps2/an385", "native_sim/native/64", "b_u585i_iot02a"])
def test_generated_app(board: str, tmp_path: Path):
    b = get_board(board)
    app = tmp_path / "app"
    generate_app(app, b)
    cfg = load_config(app / "ocre.yml")
    assert cfg.board == board
    assert (
        cfg.with_overrides(board=None, source="defaults", storage_size=None, storage_medium=None)
        == OcreConfig()
    )
    for name, text in app_board_files(b, OcreConfig()).items():
        assert (app / "boards" / name).read_text() == text
    for rel in ("src/main.c", "src/autostart.c", "src/autostart.h", "fstab.overlay", "Kconfig"):
        assert (app / rel).read_bytes() == (REPO / "zephyr_app" / rel).read_bytes()
    cmake = (app / "CMakeLists.txt").read_text()
    assert "find_package(Zephyr REQUIRED HINTS $ENV{ZEPHYR_BASE})" in cmake
    assert "cmake_minimum_required(VERSION 3.20.0)" in cmake
    assert "target_link_libraries(app PUBLIC OcreCore)" in cmake
    sample = yaml.safe_load((app / "sample.yaml").read_text())
    assert board in sample["tests"]["app.ocre.smoke"]["platform_allow"]
    assert (app / "boards" / "st" / "nucleo_u585" / "board.yml").exists() == (board == "nucleo_u585")


def test_refuses_non_empty_dir(tmp_path: Path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(Conflict, match="exists and is not empty"):
        generate_app(tmp_path, get_board("mps2/an385"))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
