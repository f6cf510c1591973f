"""What a Docker user types (issue 14, part 3): ps -a, run -d --rm, global -H, inspect of images,
rm of a running container, image aliases, --version and "did you mean"."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ocre_py.daemon import Daemon
from tests.daemon.conftest import wait_until


def test_ps_lists_running_containers_unless_all(ocre_cli, daemon: Daemon, misbehave: Path) -> None:
    assert ocre_cli("create", "-n", "idle", misbehave, "sleeploop").code == 0
    assert ocre_cli("run", "-d", "-n", "busy", "-k", "ocre:api", misbehave, "sleeploop").code == 0
    assert ocre_cli("ps", "-q").out == "busy\n"
    assert ocre_cli("ps", "-a", "-q").out == "idle\nbusy\n", "created first"
    assert [r["id"] for r in json.loads(ocre_cli("ps", "--json").out)] == ["busy"]
    assert {r["id"] for r in json.loads(ocre_cli("ps", "--all", "--json").out)} == {"busy", "idle"}
    assert ocre_cli("ps", "idle").out.splitlines()[1].startswith("idle\tCREATED"), "an ID: any state"
    r = ocre_cli("rm", "busy")
    assert r.code == 1 and r.err == (
        "ocre: error: container busy is running; stop it before removing it (or -f)\n"
    ), "one line that names -f"
    assert ocre_cli("rm", "-f", "busy").code == 0


def test_run_detached_rm_removes_the_container_when_it_exits(
    ocre_cli, daemon: Daemon, examples: dict[str, Path]
) -> None:
    r = ocre_cli("run", "-d", "--rm", "-k", "filesystem", examples["hello"])
    assert r.code == 0, r.err
    cid = r.out.strip()
    wait_until(lambda: cid not in ocre_cli("ps", "-aq").out.split(), 30, "the container's removal")
    assert not (daemon.runtime.containers_dir / cid).exists(), "its data directory goes too"
    assert ocre_cli("run", "-d", "-n", "kept", examples["hello"]).code == 0
    assert ocre_cli("wait", "kept").out == "0\n" and "kept" in ocre_cli("ps", "-aq").out, "no --rm: kept"


def test_create_rm_removes_the_container_once_it_has_run(
    ocre_cli, daemon: Daemon, examples: dict[str, Path]
) -> None:
    assert ocre_cli("create", "--rm", "-n", "once", "-k", "filesystem", examples["hello"]).code == 0
    assert ocre_cli("ps", "once").out.splitlines()[1].startswith("once\tCREATED"), "kept until it runs"
    assert ocre_cli("start", "once").out == "once\n"
    wait_until(lambda: "once" not in ocre_cli("ps", "-aq").out.split(), 30, "the container's removal")
    assert not (daemon.runtime.containers_dir / "once").exists(), "its data directory goes too"
    r = ocre_cli("create", "--rm", "--restart", "on-failure", examples["hello"])
    assert r.code == 2 and "expected 'no' with --rm" in r.err, r.err


def test_rm_with_a_restart_policy_is_refused(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    r = ocre_cli("run", "-d", "--rm", "--restart", "always", examples["hello"])
    assert r.code == 2 and r.err.count("\n") == 1
    assert "restart policy 'always': expected 'no' with --rm" in r.err, r.err


def test_global_host_before_the_verb(ocre_cli, daemon: Daemon, home: Path, monkeypatch) -> None:
    monkeypatch.delenv("OCRE_HOST")
    bogus = home / "elsewhere.sock"
    r = ocre_cli("-H", f"unix://{bogus}", "ps")
    assert r.code == 1 and f"cannot reach the Ocre daemon at unix://{bogus} (-H)" in r.err, r.err
    assert ocre_cli("-H", f"unix://{home / 'ocre.sock'}", "ps", "-a").out == "ID\tSTATUS\tIMAGE\n"
    assert ocre_cli("-H", f"unix://{bogus}", "ps", "-H", f"unix://{home / 'ocre.sock'}").code == 0
    r = ocre_cli("-H", f"unix://{bogus}", "version")
    assert r.code == 2 and "-H/--host before 'version'" in r.err


def test_inspect_falls_back_to_images(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    assert ocre_cli("image", "build", "-t", "hello:1", examples["hello"]).code == 0
    assert ocre_cli("create", "-n", "c1", examples["hello"]).code == 0
    rows = json.loads(ocre_cli("inspect", "c1", "hello:1").out)
    assert rows[0]["id"] == "c1" and rows[1]["refs"] == ["hello:1"] and "manifest" in rows[1]
    r = ocre_cli("inspect", "ghost")
    assert r.code == 1 and r.err.startswith("ocre: error: no such container: ghost\n")


def test_image_aliases_and_quiet_listing(ocre_cli, examples: dict[str, Path]) -> None:
    assert ocre_cli("image", "build", "-t", "hello:1", examples["hello"]).code == 0
    assert ocre_cli("tag", "hello:1", "hello:2").out == "hello:2\n"
    assert ocre_cli("images").out == ocre_cli("image", "ls").out
    ids = ocre_cli("images", "-q").out
    assert ids == ocre_cli("image", "ls", "-q").out and len(ids.split()) == 1 and len(ids.strip()) == 12
    assert ocre_cli("rmi", "hello:2").out == "Untagged: hello:2\n"
    assert "hello:2" not in ocre_cli("images").out
    for verb in ("pull", "push"):  # the same parser and handler as `ocre image pull|push`
        alias, full = ocre_cli(verb, "Bad Ref"), ocre_cli("image", verb, "Bad Ref")
        assert (alias.code, alias.err) == (full.code, full.err) and alias.code != 0


def test_version_flag(ocre_cli) -> None:
    r = ocre_cli("--version")
    assert r.code == 0 and r.out.startswith("Ocre version ") and ", commit " in r.out


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (("pss",), "'ps'"),
        (("imagess",), "'images'"),
        (("image", "lss"), "'ls'"),
        (("zephyr", "monitr"), "'monitor'"),
    ],
)
def test_typos_get_did_you_mean(ocre_cli, argv: tuple[str, ...], suggestion: str) -> None:
    r = ocre_cli(*argv)
    assert r.code == 2 and r.err.count("\n") == 1
    assert r.err.endswith(f"invalid choice: '{argv[-1]}' (did you mean {suggestion}?)\n"), r.err


def test_unknown_verb_far_from_any_lists_the_verbs(ocre_cli) -> None:
    r = ocre_cli("xyzzy")
    assert r.code == 2 and "(choose from 'run'" in r.err
    assert os.sep not in r.err.split("error:")[0]
