"""Restart policies: on-failure[:N], always, no — and user stops that cancel them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocre_py.daemon import Daemon, RestartPolicy
from ocre_py.errors import InvalidInput

from .conftest import wait_until


@pytest.mark.parametrize(
    ("text", "name", "retries"),
    [
        (None, "no", 0),
        ("no", "no", 0),
        ("always", "always", 0),
        ("on-failure", "on-failure", 0),
        ("on-failure:3", "on-failure", 3),
    ],
)
def test_parse_policy(text: str | None, name: str, retries: int) -> None:
    policy = RestartPolicy.parse(text)
    assert (policy.name, policy.max_retries) == (name, retries)


@pytest.mark.parametrize("text", ["sometimes", "on-failure:", "on-failure:-1", "always:3", "On-failure"])
def test_bad_policy(text: str) -> None:
    with pytest.raises(InvalidInput, match=f"restart policy '{text}': expected no, on-failure"):
        RestartPolicy.parse(text)


def test_on_failure_gives_up_after_n(ocre_cli, daemon: Daemon, misbehave: Path) -> None:
    r = ocre_cli("container", "run", "-d", "-n", "flaky", "--restart", "on-failure:2", misbehave, "exit", "3")
    assert r.code == 0, r.err

    def settled() -> bool:
        info = daemon.describe("flaky")
        return info["status"] == "STOPPED" and not info["restarting"] and info["policy_restarts"] == 2

    wait_until(settled, 10, "two restarts then STOPPED")
    info = daemon.describe("flaky")
    assert info["exit_code"] == 3 and info["restart_count"] == 2
    assert ocre_cli("logs", "flaky").out.count("done") == 0  # exit(3) before "done"
    assert "RESTARTS" in ocre_cli("ps", "-w").out


def test_on_failure_does_not_restart_success(ocre_cli, daemon: Daemon, misbehave: Path) -> None:
    ocre_cli("container", "run", "-d", "-n", "ok", "--restart", "on-failure", misbehave, "exit", "0")
    assert ocre_cli("wait", "ok").out == "0\n"
    import time

    time.sleep(0.3)
    info = daemon.describe("ok")
    assert (info["status"], info["restart_count"], info["restarting"]) == ("STOPPED", 0, False)


def test_always_restarts_until_stopped(ocre_cli, daemon: Daemon, misbehave: Path) -> None:
    ocre_cli("container", "run", "-d", "-n", "loop", "--restart", "always", misbehave, "sleep", "50")
    wait_until(lambda: daemon.describe("loop")["restart_count"] >= 2, 10, "two restarts")
    r = ocre_cli("stop", "loop")
    assert r.code == 0, r.err
    import time

    time.sleep(0.5)
    info = daemon.describe("loop")
    assert info["status"] == "STOPPED" and not info["restarting"]
    count = info["restart_count"]
    time.sleep(0.3)
    assert daemon.describe("loop")["restart_count"] == count


def test_kill_is_not_a_failure_to_restart(ocre_cli, daemon: Daemon, misbehave: Path) -> None:
    ocre_cli("container", "run", "-d", "-n", "k", "--restart", "on-failure", misbehave, "sleep", "100000")
    assert ocre_cli("kill", "k").code == 0
    import time

    time.sleep(0.4)
    info = daemon.describe("k")
    assert (info["status"], info["exit_code"], info["restarting"]) == ("STOPPED", 137, False)
