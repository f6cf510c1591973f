"""Build planning in-process: board/dir resolution, pristine handling, cmake merging, execution."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from ocre_py.cli.zephyr import ZEPHYR_COMMAND_MODULES, add_zephyr_subcommands
from ocre_py.errors import BuildError, InvalidInput
from ocre_py.zephyr.firmware.build import BuildRequest, execute_build, plan_build
from ocre_py.zephyr.project.workspace import WestContext

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "zephyr_app"


def ctx(config: dict[str, str] | None = None, zephyr_base: Path | None = None) -> WestContext:
    cfg = config or {}
    return WestContext(topdir=None, get_config=cfg.get, zephyr_base=zephyr_base)


def fake_zephyr(tmp_path: Path) -> Path:
    base = tmp_path / "zephyr"
    base.mkdir()
    (base / "VERSION").write_text("VERSION_MAJOR = 4\nVERSION_MINOR = 4\n")
    return base


def test_user_cmake_lists_merge_after_ours():
    plan = plan_build(
        BuildRequest(board="nucleo_u585", extra_conf=["/x/a.conf"],
                     cmake_args=["-DEXTRA_CONF_FILE=/x/b.conf", "-DBOARD_ROOT=/y", "-DFOO=1"]),
        ctx(),
    )  # fmt: skip
    gen = Path("build").resolve() / "ocre"
    assert plan.command[plan.command.index("--") + 1 :] == [
        f"-DBOARD_ROOT={APP};/y",
        f"-DEXTRA_CONF_FILE={gen / 'ocre.conf'};/x/a.conf;/x/b.conf",
        f"-DEXTRA_DTC_OVERLAY_FILE={gen / 'ocre.overlay'}",
        "-DFOO=1",
    ]


def test_board_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "CMakeCache.txt").write_text("CACHED_BOARD:STRING=qemu_x86\n")
    assert plan_build(BuildRequest(), ctx()).board_origin == "build directory build (CACHED_BOARD)"
    assert plan_build(BuildRequest(), ctx({"build.board": "mps2/an385"})).target == "mps2/an385"
    monkeypatch.setenv("BOARD", "mps2/an521/cpu0")
    assert (
        plan_build(BuildRequest(), ctx({"build.board": "mps2/an385"})).board_origin == "environment (BOARD)"
    )
    assert plan_build(BuildRequest(board="qemu_x86"), ctx()).board_origin == "command line (-b)"


def test_no_board_anywhere():
    with pytest.raises(InvalidInput, match="no board given: pass -b BOARD"):
        plan_build(BuildRequest(), ctx())


def test_qualified_target_uses_the_base_boards_data():
    plan = plan_build(BuildRequest(board="b_u585i_iot02a/stm32u585xx"), ctx())
    assert plan.board.name == "b_u585i_iot02a" and plan.command[5] == "b_u585i_iot02a/stm32u585xx"


def test_pristine_auto_wipes_only_when_board_or_app_changed(tmp_path: Path):
    build = tmp_path / "build"
    build.mkdir()
    (build / "CMakeCache.txt").write_text(
        f"CACHED_BOARD:STRING=mps2/an385\nAPPLICATION_SOURCE_DIR:PATH={APP}\n"
    )
    assert not plan_build(BuildRequest(board="mps2/an385", pristine="auto"), ctx()).wipe_build_dir
    assert plan_build(BuildRequest(board="qemu_x86", pristine="auto"), ctx()).wipe_build_dir
    assert plan_build(BuildRequest(board="mps2/an385", pristine="always"), ctx()).wipe_build_dir
    assert plan_build(BuildRequest(board="mps2/an385"), ctx({"build.pristine": "always"})).wipe_build_dir


def test_execute_wipes_writes_and_runs_the_exact_command(tmp_path: Path):
    build = tmp_path / "build"
    (build / "zephyr").mkdir(parents=True)
    (build / "CMakeCache.txt").write_text("CACHED_BOARD:STRING=mps2/an385\n")
    (build / "zephyr" / "old.o").write_text("x")
    calls = []
    context = ctx(zephyr_base=fake_zephyr(tmp_path))
    plan = plan_build(BuildRequest(board="mps2/an385", pristine="always"), context)
    execute_build(plan, context, run=lambda cmd, **kw: calls.append((cmd, kw["env"]["ZEPHYR_BASE"])))
    assert calls == [(plan.command, str(tmp_path / "zephyr"))]
    assert not (build / "zephyr" / "old.o").exists()
    assert (build / "ocre" / "ocre.overlay").read_text() == plan.files[
        build.resolve() / "ocre" / "ocre.overlay"
    ]
    assert (build / "ocre" / "autostart").read_text() == "ocre-autostart 1\n"


def test_pristine_refuses_a_directory_that_is_not_a_build(tmp_path: Path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "thesis.tex").write_text("precious")
    context = ctx(zephyr_base=fake_zephyr(tmp_path))
    plan = plan_build(BuildRequest(board="mps2/an385", pristine="always"), context)
    with pytest.raises(BuildError, match="refusing to wipe build"):
        execute_build(plan, context, run=lambda *a, **k: None)
    assert (tmp_path / "build" / "thesis.tex").read_text() == "precious"


def test_failed_west_build_propagates_its_exit_code(tmp_path: Path):
    context = ctx(zephyr_base=fake_zephyr(tmp_path))
    plan = plan_build(BuildRequest(board="mps2/an385"), context)

    def fail(cmd, **kw):
        raise subprocess.CalledProcessError(3, cmd)

    with pytest.raises(subprocess.CalledProcessError) as exc:
        execute_build(plan, context, run=fail)
    assert exc.value.returncode == 3


def test_budget_can_be_ignored_knowingly():
    plan = plan_build(BuildRequest(board="qemu_cortex_m3", ignore_budget=True), ctx())
    assert not plan.budget.ok and plan.command[5] == "qemu_cortex_m3"


def test_cli_args_become_the_request(ocre_cli):
    r = ocre_cli("zephyr", "build", "-b", "mps2/an385", "-d", "out", "-p", "-t", "run", "--shield", "s1",
                 "--sysbuild", "--dry-run", "--json", str(APP), "--", "-DX=1")  # fmt: skip
    assert r.code == 0, r.err
    import json

    cmd = json.loads(r.out)["command"]
    assert cmd[:10] == [sys.executable, "-m", "west", "build", "-b", "mps2/an385", "-d", "out", "-p", "never"]
    assert cmd[10:16] == ["--shield", "s1", "-t", "run", "--sysbuild", str(APP)]
    assert cmd[-1] == "-DX=1"


def test_two_apps_is_a_usage_error(ocre_cli):
    r = ocre_cli("zephyr", "build", "-b", "mps2/an385", "--dry-run", "a", "b")
    assert r.code == 2 and "[APP] [-- CMAKE_ARGS]" in r.err


def test_ocre_zephyr_and_west_ocre_share_one_parser():
    """Tripwire: every registered module contributes its verbs to both skins."""
    parser = argparse.ArgumentParser()
    add_zephyr_subcommands(parser)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"boards", "init", "build", "footprint", "flash"} <= set(sub.choices)
    assert ZEPHYR_COMMAND_MODULES[:5] == (
        "ocre_py.cli.zephyr.boards", "ocre_py.cli.zephyr.init", "ocre_py.cli.zephyr.build",
        "ocre_py.cli.zephyr.footprint", "ocre_py.cli.zephyr.flash",
    )  # fmt: skip
    west_cmd = (REPO / "west_commands" / "ocre_west.py").read_text()
    assert "add_zephyr_subcommands(parser)" in west_cmd


@pytest.mark.zephyr
def test_real_build_for_mps2_an385(zephyr_base: Path, tmp_path: Path):
    """Only with a real Zephyr v4.4.0 workspace (ZEPHYR_BASE): builds the firmware for real."""
    context = WestContext(zephyr_base=zephyr_base)
    plan = plan_build(BuildRequest(board="mps2/an385", build_dir=tmp_path / "build"), context)
    execute_build(plan, context)
    assert (tmp_path / "build" / "zephyr" / "zephyr.elf").is_file()


def test_ocre_zephyr_discovers_the_workspace_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Outside west, `ocre zephyr` reads .west/config upwards from the cwd (build.* keys, zephyr.base)."""
    (tmp_path / ".west").mkdir()
    (tmp_path / ".west" / "config").write_text("[manifest]\npath = m\n[build]\nboard = mps2/an521/cpu0\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    context = WestContext.discover()
    assert context.topdir == tmp_path and context.config("build.board") == "mps2/an521/cpu0"
    plan = plan_build(BuildRequest(), context)
    assert (plan.target, plan.board_origin) == ("mps2/an521/cpu0", "west config (build.board)")
