"""`west ocre` in a real west workspace (no Zephyr tree): help, boards, build --dry-run, init, flash."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ocre_py.zephyr.board.database import all_boards

BOARDS = [b.name for b in all_boards()]
BUILDABLE = [b for b in BOARDS if b != "qemu_cortex_m3"]
SUBCOMMANDS = ("boards", "init", "build", "footprint", "flash")


def test_help_lists_every_subcommand(west):
    r = west("ocre", "--help")
    assert r.code == 0, r.err
    for name in SUBCOMMANDS:
        assert f"    {name}" in r.out


def test_west_help_shows_the_extension(west):
    r = west("help")
    assert "ocre:" in r.out and "generate, build and flash Zephyr firmware" in r.out


def test_boards_json_matches_ocre_zephyr(west, ocre_cli):
    r = west("ocre", "boards", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert [b["name"] for b in data] == BOARDS
    local = ocre_cli("zephyr", "boards", "--json")
    assert local.code == 0 and json.loads(local.out) == data


def test_boards_table(west):
    r = west("ocre", "boards")
    lines = r.out.splitlines()
    assert lines[0].split() == ["BOARD", "SOC", "FLASH", "RAM", "STORAGE", "RUNNER", "NOTE"]
    assert any(line.startswith("nucleo_u585 ") and "out-of-tree" in line for line in lines)


@pytest.mark.parametrize("board", BUILDABLE)
def test_build_dry_run_exact_command(west, west_workspace: Path, board: str):
    r = west("ocre", "build", "-b", board, "--dry-run", "--json")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    build = west.cwd / "build"
    gen = build / "ocre"
    app = west_workspace / "ocre-toolkit" / "zephyr_app"
    expected = [
        sys.executable,
        "-m",
        "west",
        "build",
        "-b",
        board,
        "-d",
        "build",
        "-p",
        "never",
        str(app),
        "--",
    ]
    if board == "nucleo_u585":
        expected.append(f"-DBOARD_ROOT={app}")
    expected += [f"-DEXTRA_CONF_FILE={gen / 'ocre.conf'}", f"-DEXTRA_DTC_OVERLAY_FILE={gen / 'ocre.overlay'}"]
    assert plan["command"] == expected
    assert sorted(Path(p).name for p in plan["files"]) == [
        "autostart",
        "ocre.conf",
        "ocre.overlay",
        "storage.json",
    ]
    assert plan["board_origin"] == "command line (-b)"
    assert not build.exists(), "a dry run writes nothing"


def test_build_dry_run_text_prints_command_and_files(west):
    r = west("ocre", "build", "-b", "mps2/an521/cpu0", "--dry-run", "-p", "-S", "cdc-acm-console",
             "--", "-DCONFIG_DEBUG=y")  # fmt: skip
    assert r.code == 0, r.err
    assert "--- " in r.out and "ocre.overlay" in r.out and "CONFIG_OCRE=y" in r.out
    command = r.out.splitlines()[-1]
    assert command.startswith("command: ") and " -p never -S cdc-acm-console " in command
    assert command.endswith(" -DCONFIG_DEBUG=y")


def test_qemu_cortex_m3_is_refused_with_numbers(west):
    r = west("ocre", "build", "-b", "qemu_cortex_m3", "--dry-run")
    assert r.code == 1
    assert "RAM budget exceeded" in r.err and "64.0 KiB" in r.err and "mps2/an385" in r.err
    assert "Traceback" not in r.err


def test_build_without_zephyr_base_says_how_to_get_a_workspace(west):
    r = west("ocre", "build", "-b", "mps2/an385")
    assert r.code == 1
    assert "no Zephyr tree" in r.err and "west init" in r.err and "west update" in r.err
    assert not (west.cwd / "build").exists(), "nothing half-written"


def test_build_writes_files_then_reports_west_builds_failure(west, tmp_path: Path):
    """With a (fake) ZEPHYR_BASE the real `west build` runs; here it fails (zephyr is not a project
    of this workspace, so west has no `build` command) and its exit code comes back in one line."""
    fake = tmp_path / "zephyr"
    fake.mkdir()
    (fake / "VERSION").write_text("VERSION_MAJOR = 4\n")
    r = west("ocre", "build", "-b", "mps2/an385", env={"ZEPHYR_BASE": str(fake)})
    assert r.code != 0
    assert "ERROR: command failed with exit code" in r.err and " -m west build -b mps2/an385 " in r.err
    gen = west.cwd / "build" / "ocre"
    assert sorted(p.name for p in gen.iterdir()) == ["autostart", "ocre.conf", "ocre.overlay", "storage.json"]


def test_build_honours_west_config(west):
    assert west("config", "build.board", "mps2/an385").code == 0
    assert west("config", "build.dir-fmt", "out/{board}").code == 0
    r = west("ocre", "build", "--dry-run", "--json")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert plan["board"] == "mps2/an385"
    assert plan["board_origin"] == "west config (build.board)"
    assert plan["build_dir"] == "out/mps2/an385"
    assert plan["command"][plan["command"].index("-d") + 1] == "out/mps2/an385"


def test_bad_build_pristine_warns_and_falls_back(west):
    west("config", "build.pristine", "sometimes")
    r = west("ocre", "build", "-b", "mps2/an385", "--dry-run")
    assert r.code == 0, r.err
    assert "build.pristine 'sometimes' is not one of auto, always, never" in r.err


def test_unknown_board_lists_the_known_ones(west):
    r = west("ocre", "build", "-b", "frdm_k64f", "--dry-run")
    assert r.code == 1
    assert "unknown board 'frdm_k64f'" in r.err and "nucleo_u585" in r.err


def test_init_then_build_uses_the_apps_ocre_yml(west):
    r = west("ocre", "init", "myapp", "-b", "nucleo_u585")
    assert r.code == 0, r.err
    app = west.cwd / "myapp"
    expected = ["CMakeLists.txt", "prj.conf", "ocre.yml", "sample.yaml", "src/main.c", "src/autostart.c"]
    expected += ["fstab.overlay", "boards/nucleo_u585.overlay", "boards/st/nucleo_u585/board.yml"]
    for rel in expected:
        assert (app / rel).is_file(), rel
    r = west("ocre", "build", "--dry-run", "--json", "myapp")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert plan["board"] == "nucleo_u585" and plan["board_origin"].endswith("ocre.yml (board)")
    assert plan["command"][10] == str(app.resolve())


def test_init_refuses_a_non_empty_dir(west):
    (west.cwd / "taken").mkdir()
    (west.cwd / "taken" / "x").write_text("keep me")
    r = west("ocre", "init", "taken")
    assert r.code == 1 and "not empty" in r.err
    assert (west.cwd / "taken" / "x").read_text() == "keep me"


def test_flash_dry_run_uses_the_boards_runner(west):
    build = west.cwd / "build"
    build.mkdir()
    (build / "CMakeCache.txt").write_text("CACHED_BOARD:STRING=nucleo_u585\n")
    r = west("ocre", "flash", "--dry-run", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["command"] == [
        sys.executable,
        "-m",
        "west",
        "flash",
        "-d",
        "build",
        "-r",
        "pyocd",
    ]


def test_flash_with_pyocd_and_no_probe_is_one_clear_line(west):
    build = west.cwd / "build"
    (build / "zephyr").mkdir(parents=True)
    (build / "CMakeCache.txt").write_text("CACHED_BOARD:STRING=nucleo_u585\n")
    (build / "zephyr" / "zephyr.hex").write_text(":00000001FF\n")
    r = west("ocre", "flash", "--pyocd")
    assert r.code == 1
    errors = [line for line in r.err.splitlines() if line.startswith("ERROR")]
    assert errors == [
        "ERROR: no debug probe found: connect the board's ST-LINK/CMSIS-DAP over USB "
        "('pyocd list' shows none)"
    ]


def test_manifest_pins_zephyr_and_ocre_runtime(west):
    r = west("list", "-a", "-f", "{name} {revision} {path} {url}")
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:] == [
        "zephyr v4.4.0 zephyr https://github.com/zephyrproject-rtos/zephyr",
        "ocre-runtime 30d1efaffce56f9a7d84f455a3f6ca1139b8bea4 modules/lib/ocre-runtime "
        "https://github.com/project-ocre/ocre-runtime",
    ]
    assert west("manifest", "--validate").code == 0
