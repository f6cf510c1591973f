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


@pytest.mark.parametrize("kind", ["hex", "elf", "bin"])
def test_west_flash_file_options_like_west_flash(ocre_cli, tmp_path: Path, kind: str):
    build = tmp_path / "build"
    build.mkdir()
    (build / "CMakeCache.txt").write_text("CACHED_BOARD:STRING=nucleo_u585\n")
    r = ocre_cli("zephyr", "flash", "-d", build, f"--{kind}-file", "fw.img", "--dry-run", "--json")
    assert r.code == 0, r.err
    assert __import__("json").loads(r.out)["command"][-2:] == [f"--{kind}-file", "fw.img"]
    r = ocre_cli("zephyr", "flash", "--hex-file", "a.hex", "--file", "b.hex")
    assert r.code == 2 and "give one of --file, --hex-file" in r.err


@pytest.mark.parametrize("pyocd", [(), ("--pyocd",)])
def test_flash_of_an_empty_build_dir_says_nothing_built(ocre_cli, tmp_path: Path, pyocd: tuple[str, ...]):
    (tmp_path / "build").mkdir()
    r = ocre_cli("zephyr", "flash", "-d", tmp_path / "build", *pyocd)
    assert r.code == 1 and r.err.splitlines()[0].startswith(
        f"ocre: error: nothing built in {tmp_path / 'build'}"
    )
    assert "Zephyr tree" not in r.err and "hint: build first: west ocre build -b BOARD" in r.err


def test_unknown_board_suggests_the_closest():
    from ocre_py.errors import NotFound
    from ocre_py.zephyr.board.database import lookup_board

    with pytest.raises(NotFound, match=r"unknown board 'nucleo_u58' \(did you mean 'nucleo_u585'\?\)"):
        lookup_board("nucleo_u58")
