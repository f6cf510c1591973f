"""Containers, their records and data survive the daemon: ``kill -9`` and clean restarts."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .conftest import DaemonProcess, wait_until


def _states(proc: DaemonProcess) -> dict[str, dict]:
    return {c["id"]: c for c in proc.client().containers()}


def test_kill_9_then_restart_is_consistent(
    daemon_process: DaemonProcess, examples: dict[str, Path], misbehave: Path
) -> None:
    proc = daemon_process
    proc.start()
    blinky, api = examples["blinky"], ["-k", "ocre:api"]
    for args in (
        ["-n", "plain", *api, blinky, "0", "50"],
        ["-n", "always", "--restart", "always", *api, blinky, "0", "50"],
        ["-n", "onfail", "--restart", "on-failure:5", *api, misbehave, "sleep", "100000"],
        ["-n", "paused", *api, misbehave, "sleep", "100000"],
        ["-n", "files", "-k", "filesystem", examples["files"]],
    ):
        r = proc.cli("container", "run", "-d", *args)
        assert r.returncode == 0, r.stderr
    r = proc.cli("create", "-n", "fresh", examples["hello"])
    assert r.returncode == 0, r.stderr
    assert proc.cli("pause", "paused").returncode == 0
    client = proc.client()
    assert client.action("files", "wait", timeout=10)["exit_code"] == 0
    data_dir = proc.home / "containers" / "files"
    assert (data_dir / "runs.txt").read_text() == "1\n"
    before = {cid: c["status"] for cid, c in _states(proc).items()}
    assert before == {
        "plain": "RUNNING",
        "always": "RUNNING",
        "onfail": "RUNNING",
        "paused": "PAUSED",
        "files": "STOPPED",
        "fresh": "CREATED",
    }

    _wait_for_records_on_disk(proc, before)  # group commit: the last writes land shortly after
    proc.kill9()
    proc.start()  # a stale socket and lock are left behind; the new daemon takes over

    after = _states(proc)
    assert set(after) == set(before)
    # Policy 'no': the run was lost with the daemon → STOPPED, 137, and the reason.
    for cid in ("plain", "paused"):
        assert after[cid]["status"] == "STOPPED" and after[cid]["exit_code"] == 137, after[cid]
        assert "daemon stopped" in after[cid]["error"]
    # Policies honoured: both come back running.
    assert after["always"]["status"] == "RUNNING"
    assert after["onfail"]["status"] == "RUNNING" and after["onfail"]["policy_restarts"] == 1
    assert after["files"]["status"] == "STOPPED" and after["files"]["exit_code"] == 0
    assert after["fresh"]["status"] == "CREATED"
    # Data directories persist (spec D7) and restarts count.
    assert proc.cli("start", "files").returncode == 0
    assert client.action("files", "wait", timeout=10)["exit_code"] == 0
    assert (data_dir / "runs.txt").read_text() == "2\n"
    logs = proc.cli("logs", "files").stdout
    assert "files: run 1" in logs and "files: run 2" in logs
    # The restored containers are fully usable.
    assert proc.cli("start", "plain").returncode == 0
    assert proc.cli("kill", "plain", "always", "onfail").returncode == 0
    assert proc.cli("rm", "plain", "always", "onfail", "paused", "files", "fresh").returncode == 0
    assert proc.client().containers() == []
    assert not data_dir.exists()
    assert list((proc.home / "state" / "containers").iterdir()) == []


def test_clean_shutdown_keeps_policies(daemon_process: DaemonProcess, examples: dict[str, Path]) -> None:
    proc = daemon_process
    proc.start()
    info = proc.info()
    assert info["addresses"] == [f"unix://{proc.home / 'ocre.sock'}"]
    assert (proc.home / "ocre.sock").stat().st_mode & 0o777 == 0o600
    blinky = examples["blinky"]
    assert (
        proc.cli(
            "container", "run", "-d", "-n", "keep", "--restart", "always", "-k", "ocre:api", blinky
        ).returncode
        == 0
    )
    assert proc.cli("run", "-d", "-n", "once", "-k", "ocre:api", blinky).returncode == 0
    assert proc.stop() == 0, proc.output()
    assert not (proc.home / "ocre.sock").exists() and not (proc.home / "daemon.json").exists()
    records = {p.stem: json.loads(p.read_text()) for p in (proc.home / "state" / "containers").glob("*.json")}
    assert {k: r["state"] for k, r in records.items()} == {"keep": "STOPPED", "once": "STOPPED"}, (
        proc.output()
    )
    # The daemon's own log is JSON lines.
    lines = [json.loads(ln) for ln in (proc.home / "logs" / "daemon.log").read_text().splitlines()]
    assert {"ts", "level", "logger", "msg"} <= set(lines[0])
    assert any(ln["msg"] == "daemon stopped" for ln in lines)

    proc.start()
    states = {c["id"]: c["status"] for c in proc.client().containers()}
    assert states == {"keep": "RUNNING", "once": "STOPPED"}, proc.output()
    wait_until(lambda: "blink 1" in proc.cli("logs", "keep").stdout, 10, "the autostarted container's output")


def test_rm_containers_that_ran_are_removed_when_the_daemon_comes_back(
    daemon_process: DaemonProcess, examples: dict[str, Path], misbehave: Path
) -> None:
    proc = daemon_process
    proc.start()
    sleeper = ["-k", "ocre:api", misbehave, "sleep", "100000"]
    assert proc.cli("run", "-d", "--rm", "-n", "killed", *sleeper).returncode == 0
    assert proc.cli("create", "--rm", "-n", "unstarted", examples["hello"]).returncode == 0
    _wait_for_records_on_disk(proc, {"killed": "RUNNING", "unstarted": "CREATED"})
    proc.kill9()  # its run ends with the daemon, which cannot remove it then
    proc.start()
    assert set(_states(proc)) == {"unstarted"}, "ran with --rm: removed; never started: kept"
    assert not (proc.home / "containers" / "killed").exists() and not (proc.home / "logs" / "killed").exists()

    assert proc.cli("run", "-d", "--rm", "-n", "stopped", *sleeper).returncode == 0
    assert proc.stop() == 0  # a clean stop ends it too, and a stopping daemon removes nothing
    assert (proc.home / "state" / "containers" / "stopped.json").exists()
    proc.start()
    assert set(_states(proc)) == {"unstarted"}
    assert [p.name for p in (proc.home / "state" / "containers").glob("*.json")] == ["unstarted.json"]
    assert len(list((proc.home / "blobs" / "sha256").iterdir())) == 1, "only the kept container's blob"


def _wait_for_records_on_disk(proc: DaemonProcess, states: dict[str, str], limit: float = 30.0) -> None:
    """Until every record file says what the daemon reported (bounded): a kill -9 must find the
    state the test asserts on, however loaded the machine (records are written by a group commit)."""
    records = proc.home / "state" / "containers"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        on_disk = {}
        for path in records.glob("*.json"):
            try:
                on_disk[path.stem] = json.loads(path.read_text()).get("state")
            except (OSError, ValueError):
                continue
        if all(str(on_disk.get(cid, "")).upper() == st for cid, st in states.items()):
            return
        time.sleep(0.05)
