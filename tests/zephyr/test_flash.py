"""Flashing: exact west flash command lines, and the pyocd path with a real pyocd and no probe."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ocre_py.errors import DeployError, InvalidInput
from ocre_py.zephyr.board.database import get_board
from ocre_py.zephyr.deploy.west_flash import FlashRequest, flash_with_pyocd, west_flash_command


@pytest.mark.parametrize(
    ("board", "request_kwargs", "tail"),
    [
        ("nucleo_u585", {}, ["-r", "pyocd"]),
        ("b_u585i_iot02a", {}, ["-r", "stm32cubeprogrammer"]),
        ("b_u585i_iot02a", {"runner": "jlink", "skip_rebuild": True}, ["-r", "jlink", "--skip-rebuild"]),
        ("native_sim/native/64", {}, []),
        (
            "mps2/an385",
            {"file": Path("m.hex"), "runner_args": ["--erase"]},
            ["--hex-file", "m.hex", "--erase"],
        ),
    ],
)
def test_west_flash_command(board: str, request_kwargs: dict, tail: list[str]):
    cmd = west_flash_command(FlashRequest(**request_kwargs), get_board(board))
    assert cmd == [sys.executable, "-m", "west", "flash", "-d", "build", *tail]


def test_unknown_file_type_is_refused():
    with pytest.raises(InvalidInput, match=r"--file 'fw\.s19': expected a \.hex, \.bin or \.elf file"):
        west_flash_command(FlashRequest(file=Path("fw.s19")), None)


def test_pyocd_gets_target_pack_and_sector_erase(tmp_path: Path):
    (tmp_path / "zephyr").mkdir()
    (tmp_path / "zephyr" / "zephyr.hex").write_text(":00000001FF\n")
    seen = {}

    def connect(**kwargs):
        seen.update(kwargs)
        return None

    request = FlashRequest(build_dir=tmp_path, use_pyocd=True, pack="Keil.STM32U5xx_DFP.pack")
    with pytest.raises(DeployError, match=r"^no debug probe found"):
        flash_with_pyocd(request, get_board("nucleo_u585"), connect=connect)
    assert seen == {
        "blocking": False, "return_first": True, "unique_id": None, "target_override": "stm32u585zitxq",
        "chip_erase": "sector", "smart_flash": True, "pack": "Keil.STM32U5xx_DFP.pack",
    }  # fmt: skip


def test_real_pyocd_without_probe_returns_quickly(tmp_path: Path):
    """The real ConnectHelper with no probe attached: None at once, turned into one line."""
    (tmp_path / "zephyr").mkdir()
    (tmp_path / "zephyr" / "zephyr.elf").write_bytes(b"\x7fELF")
    with pytest.raises(DeployError, match="no debug probe found"):
        flash_with_pyocd(FlashRequest(build_dir=tmp_path, use_pyocd=True), get_board("nucleo_u575zi_q"))


def test_board_without_pyocd_target_needs_one(tmp_path: Path):
    with pytest.raises(InvalidInput, match="no pyocd target for mps2/an385: pass --target"):
        flash_with_pyocd(FlashRequest(build_dir=tmp_path, use_pyocd=True), get_board("mps2/an385"))
