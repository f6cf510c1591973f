"""The lifecycle matrix of spec section 5 through the daemon and the CLI, failures included."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from ocre_py.daemon import Daemon

from .conftest import wait_until


def status(daemon: Daemon, cid: str) -> str:
    return daemon.describe(cid)["status"]


def test_lifecycle_matrix(ocre_cli, daemon: Daemon, misbehave: Path) -> None:
    image = misbehave.name
    r = ocre_cli("create", "-n", "m1", "-k", "ocre:api", misbehave, "sleeploop")
    assert (r.code, r.out) == (0, "m1\n"), r.err
    assert ocre_cli("ps", "-a").out == f"ID\tSTATUS\tIMAGE\nm1\tCREATED\t{image}\n"
    assert ocre_cli("ps").out == "ID\tSTATUS\tIMAGE\n", "without -a: running containers only (Docker)"

    # From CREATED: wait, stop, kill, pause, unpause and restart-style transitions fail clearly.
    for verb, message in [
        ("wait", "container m1 was never started; nothing to wait for"),
        ("stop", "container m1 is not running"),
        ("kill", "container m1 is not running"),
        ("pause", "container m1 is not running"),
        ("unpause", "container m1 is not paused"),
    ]:
        r = ocre_cli(verb, "m1")
        assert r.code == 1 and r.err == f"ocre: error: {message}\n", (verb, r.err)
    assert status(daemon, "m1") == "CREATED"

    assert ocre_cli("start", "m1").out == "m1\n"
    assert status(daemon, "m1") == "RUNNING"
    r = ocre_cli("start", "m1")
    assert r.code == 1 and "container m1 is running; only created or stopped can start" in r.err
    assert ocre_cli("unpause", "m1").code == 1

    assert ocre_cli("pause", "m1").out == "m1\n"
    assert ocre_cli("ps", "m1").out == f"ID\tSTATUS\tIMAGE\nm1\tPAUSED \t{image}\n"
    assert "container m1 is not running" in ocre_cli("pause", "m1").err
    r = ocre_cli("rm", "m1")
    assert r.code == 1 and "container m1 is paused; stop it before removing it" in r.err
    assert ocre_cli("unpause", "m1").out == "m1\n"
    assert status(daemon, "m1") == "RUNNING"
    r = ocre_cli("rm", "m1")
    assert r.code == 1 and "container m1 is running; stop it before removing it (or -f)" in r.err

    # Graceful stop: the container sees the stop event (ocre_sleep → -EINTR) and exits with 7.
    assert ocre_cli("stop", "-t", "5", "m1").out == "m1\n"
    assert status(daemon, "m1") == "STOPPED"
    assert ocre_cli("wait", "m1").out == "7\n"
    assert "stop requested" in ocre_cli("logs", "m1").out
    assert "container m1 is not running" in ocre_cli("stop", "m1").err
    assert "container m1 is not running" in ocre_cli("kill", "m1").err

    # restart from STOPPED, kill → 137, start again from STOPPED.
    assert ocre_cli("restart", "m1").out == "m1\n"
    assert status(daemon, "m1") == "RUNNING"
    assert ocre_cli("kill", "m1").out == "m1\n"
    assert ocre_cli("wait", "m1").out == "137\n"
    assert ocre_cli("start", "m1").code == 0
    info = daemon.describe("m1")
    assert info["status"] == "RUNNING" and info["restart_count"] == 2
    # From PAUSED: stop is still graceful (unpaused, then the stop event), and kill works.
    ocre_cli("pause", "m1")
    assert ocre_cli("stop", "m1").out == "m1\n"
    assert ocre_cli("wait", "m1").out == "7\n"
    ocre_cli("start", "m1")
    ocre_cli("pause", "m1")
    assert ocre_cli("kill", "m1").out == "m1\n"
    assert ocre_cli("wait", "m1").out == "137\n"
    ocre_cli("start", "m1")
    assert ocre_cli("rm", "-f", "m1").out == "m1\n"
    r = ocre_cli("ps", "m1")
    assert (
        r.code == 1
        and r.err
        == "ocre: error: no such container: m1\nocre: hint: 'ocre ps' lists the daemon's containers\n"
    )
    assert ocre_cli("ps", "-a").out == "ID\tSTATUS\tIMAGE\n"


def test_run_detached_hello_exits_and_logs(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    r = ocre_cli("run", "-d", "-e", "GREETING=Hi", "-e", "EXIT_CODE=3", examples["hello"], "world")
    assert r.code == 0, r.err
    cid = r.out.strip()
    assert re.fullmatch(r"[0-9a-f]{7}", cid)
    assert ocre_cli("wait", cid).out == "3\n"
    logs = ocre_cli("logs", cid).out
    assert "Hi, world! powered by Ocre" in logs
    # argv[0] is the image path in the daemon's workdir (spec 1.1): the content the container pinned.
    digest = daemon.describe(cid)["digest"].removeprefix("sha256:")
    assert f"argv[0]={daemon.workdir / 'blobs' / 'sha256' / digest / 'hello.wasm'}" in logs
    assert ocre_cli("ps", cid).out.splitlines()[1] == f"{cid}\tSTOPPED\thello.wasm"
    row = daemon.describe(cid)
    assert row["exit_code"] == 3 and row["restart_policy"] == "no"


def test_names_and_bad_input(ocre_cli, daemon: Daemon, examples: dict[str, Path], tmp_path: Path) -> None:
    hello = examples["hello"]
    assert ocre_cli("create", "-n", "same", hello).code == 0
    r = ocre_cli("create", "-n", "same", hello)
    assert (r.code, r.err.splitlines()[0]) == (1, "ocre: error: container ID 'same' is already in use")
    cases = [
        (["-n", "Bad"], "container ID 'Bad': expected lowercase letters, digits"),
        (["-n", ".dot"], "container ID '.dot': expected"),
        (["--restart", "sometimes"], "restart policy 'sometimes': expected no, on-failure"),
        (["-v", "tmp:/"], "mount 'tmp:/': expected HOST:GUEST"),
        (["-k", "filesystem", "-v", "/tmp:/"], "mount '/tmp:/': expected a GUEST other than '/'"),
        (["-e", "NOVALUE"], "environment entry 'NOVALUE': expected KEY=VALUE"),
        (["-k", "root"], "capability 'root': expected one of"),
        (["-r", "wamr"], "runtime 'wamr': expected one of wasmtime/wasip1"),
    ]
    for options, message in cases:
        r = ocre_cli("create", *options, hello)
        assert r.code == 2 and message in r.err, (options, r.err)
    r = ocre_cli("create", "no-such-image.wasm")
    assert r.code == 2 and "no-such-image.wasm" in r.err
    r = ocre_cli("create", "./missing/file.wasm")
    assert r.code == 2 and "expected an existing .wasm file" in r.err
    assert [c["id"] for c in daemon.containers()] == ["same"]
    # An uppercase file name is not a valid image name: the user is told how to fix it.
    upper = tmp_path / "Hello.wasm"
    upper.write_bytes(hello.read_bytes())
    r = ocre_cli("create", upper)
    assert r.code == 2 and "image name 'Hello.wasm'" in r.err and "hint" in r.err


def test_pause_holds_the_container(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    r = ocre_cli("run", "-d", "-n", "blink", "-k", "ocre:api", examples["blinky"], "0", "30")
    assert r.code == 0, r.err
    log = daemon.logs("blink")
    wait_until(lambda: log.total > 60, 10, "blinks")
    ocre_cli("pause", "blink")
    wait_until(lambda: daemon.runtime.get("blink").control.paused, 5)
    import time

    time.sleep(0.1)
    held = log.total
    time.sleep(0.3)
    assert log.total == held, "a paused container kept running"
    ocre_cli("unpause", "blink")
    wait_until(lambda: log.total > held, 5, "output after unpause")
    # blinky ignores the stop event, so stop kills it after --time: 137.
    assert ocre_cli("stop", "-t", "0.2", "blink").code == 0
    assert daemon.describe("blink")["exit_code"] == 137


def test_logs_follow_streams_until_exit(ocre_cli, daemon: Daemon, misbehave: Path, capsys) -> None:
    from ocre_py.daemon import DaemonClient

    cid = ocre_cli("run", "-d", "-k", "ocre:api", misbehave, "sleep", "400").out.strip()
    chunks: list[bytes] = []
    follower = threading.Thread(target=lambda: chunks.extend(DaemonClient.connect().logs(cid, follow=True)))
    follower.start()
    follower.join(10)
    assert not follower.is_alive(), "logs -f did not end when the container exited"
    text = b"".join(chunks).decode()
    assert text == "sleeping 400\nwoke rc=0\n"
    assert ocre_cli("logs", "--tail", "1", cid).out == "woke rc=0\n"


def test_inspect_and_json_listings(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    import json

    ocre_cli("create", "-n", "one", "--restart", "on-failure:3", "-l", "role=test", examples["hello"])
    [info] = json.loads(ocre_cli("inspect", "one").out)
    assert info["restart_policy"] == "on-failure:3" and info["labels"] == {"role": "test"}
    assert info["status"] == "CREATED" and info["image"] == "hello.wasm"
    assert json.loads(ocre_cli("ps", "--json").out) == []
    rows = json.loads(ocre_cli("ps", "-a", "--json").out)
    assert [r["id"] for r in rows] == ["one"]
    assert ocre_cli("ps", "-aq").out == "one\n"
    wide = ocre_cli("ps", "--all", "--wide").out.splitlines()
    assert wide[0].split() == ["ID", "STATUS", "IMAGE", "EXIT", "RESTARTS", "POLICY", "CREATED"]
    images = json.loads(ocre_cli("daemon", "images", "ls", "--json").out)
    assert [(i["name"], i["containers"]) for i in images] == [("hello.wasm", ["one"])]


@pytest.mark.parametrize(
    "verb", ["stop", "kill", "pause", "unpause", "start", "restart", "wait", "rm", "logs"]
)
def test_unknown_container(ocre_cli, daemon: Daemon, verb: str) -> None:
    r = ocre_cli(verb, "ghost")
    assert r.code == 1 and r.err.startswith("ocre: error: no such container: ghost\n")


def test_no_daemon_is_a_clear_error(ocre_cli, home: Path) -> None:
    r = ocre_cli("ps")
    assert r.code == 1
    assert f"cannot reach the Ocre daemon at unix://{home / 'ocre.sock'} (default socket)" in r.err
    assert "ocre daemon &" in r.err
    r = ocre_cli("ps", "-H", "ftp://x")
    assert r.code == 2 and "-H: daemon address 'ftp://x': expected unix://PATH or tcp://HOST:PORT" in r.err


def test_instantiation_failure_is_error_with_reason(ocre_cli, daemon: Daemon, misbehave: Path) -> None:
    """Spec D6: a failed start leaves the container in ERROR with the reason; rm works."""
    cid = ocre_cli("run", "-d", "--memory", "64K", misbehave, "exit", "0").out.strip()
    wait_until(lambda: daemon.describe(cid)["status"] == "ERROR", 10, "ERROR")
    assert ocre_cli("ps", cid).out.splitlines()[1] == f"{cid}\tERROR  \t{misbehave.name}"
    assert daemon.describe(cid)["error"]
    r = ocre_cli("wait", cid)
    assert r.code == 1 and f"container {cid} failed to start" in r.err
    assert ocre_cli("rm", cid).code == 0


def test_second_daemon_on_same_workdir_is_refused(ocre_cli, daemon: Daemon, home: Path) -> None:
    r = ocre_cli("daemon", "-H", f"unix://{home / 'other.sock'}")
    assert r.code == 1 and f"working directory {home} is already in use" in r.err


def test_logs_follow_cli(ocre_cli, daemon: Daemon, misbehave: Path) -> None:
    cid = ocre_cli("run", "-d", misbehave, "sleep", "300").out.strip()
    r = ocre_cli("logs", "-f", cid)
    assert (r.code, r.out) == (0, "sleeping 300\nwoke rc=0\n")
