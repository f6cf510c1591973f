"""``test``: the exact twister command line and the summary of a twister.json report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.zephyr.emulate import twister

REPORT = {
    "environment": {"zephyr_version": "v4.4.0", "toolchain": "zephyr"},
    "testsuites": [
        {"name": "zephyr_app/app.ocre.smoke", "platform": "native_sim/native/64", "status": "passed",
         "execution_time": "3.20", "testcases": [{"identifier": "app.ocre.smoke", "status": "passed"}]},
        {"name": "zephyr_app/app.ocre.smoke", "platform": "mps2/an521/cpu0", "status": "failed",
         "reason": "Timeout", "execution_time": "60.0"},
        {"name": "zephyr_app/app.ocre.smoke", "platform": "qemu_x86", "status": "filtered",
         "reason": "Not in testsuite platform allow list"},
    ],
}  # fmt: skip


def test_command_uses_integration_platforms_by_default() -> None:
    assert twister.twister_command("/repo/zephyr_app", outdir="out") == [
        "west", "twister", "-T", "/repo/zephyr_app", "-O", "out", "--inline-logs", "-v", "-G",
    ]  # fmt: skip


def test_command_with_platforms_board_root_and_hardware() -> None:
    cmd = twister.twister_command(
        "app", outdir="o", platforms=["b_u585i_iot02a"], board_root="app", device_serial="/dev/ttyACM0"
    )
    assert cmd[8:] == [
        "-p", "b_u585i_iot02a", "--board-root", "app",
        "--device-testing", "--device-serial", "/dev/ttyACM0", "--west-flash",
    ]  # fmt: skip


def test_summary_counts(tmp_path: Path) -> None:
    path = tmp_path / "twister.json"
    path.write_text(json.dumps(REPORT))
    s = twister.summarize(path)
    assert (s.passed, s.failed, s.skipped, s.ok) == (1, 1, 1, False)
    assert s.suites[1].reason == "Timeout"


def test_bad_report(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text("{")
    with pytest.raises(InvalidInput, match="twister report"):
        twister.summarize(tmp_path / "t.json")


def test_cli_dry_run_and_report(zephyr_cli, tmp_path: Path) -> None:
    r = zephyr_cli("test", "--dry-run", "-p", "native_sim/native/64")
    assert r.code == 0 and r.out.startswith("west twister -T ") and "-p native_sim/native/64" in r.out
    path = tmp_path / "twister.json"
    path.write_text(json.dumps(REPORT))
    r = zephyr_cli("test", "--report", path)
    assert r.code == 1 and r.out.splitlines()[-1] == "1 passed, 1 failed, 1 skipped"
    r = zephyr_cli("test", "--report", path, "--json")
    assert json.loads(r.out)["failed"] == 1
