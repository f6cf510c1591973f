"""The member's state message, the device view readers build from it, deployment files and plans:
the parts of joining and desired state that need no broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.fleet import protocol
from ocre_py.fleet.control import plan
from ocre_py.fleet.daemon_host import (
    LABEL_BRIDGE,
    LABEL_DEPLOYMENT,
    LABEL_GENERATION,
    DaemonHost,
    progress_of,
)
from ocre_py.fleet.deployfile import load_file, pin
from ocre_py.fleet.reconcile import Progress
from ocre_py.fleet.state import DeviceView, encode_state, stable, state_message

D = "sha256:" + "b" * 64


def message(containers: int = 1, **kw: object) -> dict[str, object]:
    return state_message(
        "d1",
        {"role": "sensor"},
        version="0.1.0",
        health={"status": "ok", "uptime_s": 1.5, "restarting": 0},
        resources={"rss_bytes": 1, "cpus": 2, "disk_free_bytes": 3, "containers": containers},
        deployments={"hello": (Progress("g" * 16, "running", D), "hello")},
        containers=[
            {"id": f"c{i:04d}", "image": "x" * 200, "status": "RUNNING", "digest": D, "deployment": None}
            for i in range(containers)
        ],
        **kw,  # type: ignore[arg-type]
    )


def test_state_message_shape_and_change_detection() -> None:
    m = message(ts=1.0)
    assert m["protocol"] == protocol.PROTOCOL and m["ts"] == 1.0
    assert m["deployments"] == {
        "hello": {"generation": "g" * 16, "state": "running", "digest": D, "container": "hello"}
    }
    later = message(ts=2.0)
    later["resources"]["rss_bytes"] = 99  # type: ignore[index]
    assert stable(later) == stable(m)  # only volatile fields moved: nothing to publish
    later["health"]["status"] = "degraded"  # type: ignore[index]
    assert stable(later) != stable(m)


def test_state_message_is_bounded_by_shortening_the_container_list() -> None:
    m = message(containers=protocol.MAX_CONTAINERS)
    data = encode_state(m)
    assert len(data) <= protocol.MAX_MESSAGE
    decoded = json.loads(data)
    assert 0 < len(decoded["containers"]) < protocol.MAX_CONTAINERS
    assert decoded["resources"]["containers"] == protocol.MAX_CONTAINERS  # the count still totals them


def test_long_errors_are_cut_in_the_state_message() -> None:
    m = state_message(
        "d1",
        {},
        version="v",
        health={},
        resources={},
        deployments={"a": (Progress("g", "failed", error="e" * 5000), None)},
        containers=[],
    )
    assert len(m["deployments"]["a"]["error"]) == 300 and m["deployments"]["a"]["container"] is None


def test_a_state_message_fits_whatever_its_errors_say() -> None:
    """64 failed deployments whose errors are non-ASCII (six bytes each in JSON): the errors are
    cut further rather than the member not reporting at all."""
    failed = Progress("g" * 16, "failed", D, "é" * 5000)
    m = state_message(
        "d1",
        {},
        version="v",
        health={},
        resources={},
        deployments={f"dep{i:02}": (failed, f"dep{i:02}") for i in range(protocol.MAX_DEPLOYMENTS)},
        containers=[{"id": f"c{i}"} for i in range(protocol.MAX_CONTAINERS)],
    )
    data = encode_state(m)
    assert len(data) <= protocol.MAX_MESSAGE
    decoded = json.loads(data)
    assert len(decoded["deployments"]) == protocol.MAX_DEPLOYMENTS and decoded["containers"] == []
    assert {e["error"] for e in decoded["deployments"].values()} == {"é" * 40}
    assert {e["state"] for e in decoded["deployments"].values()} == {"failed"}


def test_device_view_reads_presence_and_state() -> None:
    view = DeviceView("d1")
    assert view.peer.online  # not heard from yet: a rollout waits for it rather than stopping
    view.on_state(encode_state(message(ts=5.0)))
    assert view.labels == {"role": "sensor"} and view.last_seen == 5.0
    assert view.deployments["hello"].state == "running" and view.containers_of["hello"] == "hello"
    view.on_presence(protocol.encode({"online": False, "ts": 7.0}))
    assert not view.online and not view.peer.online and view.last_seen == 7.0
    with pytest.raises(InvalidInput, match="labels"):
        view.on_state(protocol.encode({"labels": {"bad key!": "x"}}))
    assert view.labels == {"role": "sensor"}  # a bad message changes nothing
    with pytest.raises(InvalidInput, match="bound"):
        view.on_state(b" " * (protocol.MAX_MESSAGE + 1))
    view.on_state(b"")  # a cleared retained state
    assert view.state is None and view.deployments == {}


@pytest.mark.parametrize(
    ("info", "expect"),
    [
        ({"status": "RUNNING", "started_at": 100.0}, Progress("g", "running", D)),
        ({"status": "RUNNING", "started_at": 109.5}, Progress("g", "starting", D)),  # still settling
        ({"status": "CREATED"}, Progress("g", "starting", D)),
        ({"status": "STOPPED", "exit_code": 0}, Progress("g", "exited", D, None, 0)),
        ({"status": "STOPPED", "exit_code": 3}, Progress("g", "exited", D, None, 3)),
        ({"status": "ERROR", "error": "trap"}, Progress("g", "failed", D, "trap")),
        ({"status": "STOPPED", "exit_code": 1, "restarting": True}, Progress("g", "starting", D, None, 1)),
    ],
)
def test_progress_of_a_container(info: dict[str, object], expect: Progress) -> None:
    labels = {"labels": {"ocre.fleet.generation": "g", "ocre.fleet.digest": D}}
    assert progress_of({**labels, **info}, now=110.0) == expect


def test_progress_failed_and_done() -> None:
    assert Progress("g", "exited", exit_code=3).failed
    assert Progress("g", "exited", exit_code=0).done
    assert Progress.from_dict({"generation": "g", "state": "held", "reason": "waiting"}) == Progress(
        "g", "held", reason="waiting"
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deploy.yaml"
    path.write_text(text)
    return path


def test_deployment_files_in_every_shape(tmp_path: Path) -> None:
    one = load_file(
        write(
            tmp_path, "name: a\nimage: 127.0.0.1:5000/a:1\nargs: [5, x]\nenv: {N: 1, FLAG: yes}\nmemory: 1M\n"
        )
    )
    assert [(d.name, d.args, d.env, d.memory) for d in one] == [("a", ("5", "x"), ("N=1", "FLAG=true"), "1M")]
    listed = load_file(
        write(tmp_path, "- {name: a, image: 127.0.0.1:5000/a:1}\n- {name: b, image: r.io/b}\n")
    )
    wrapped = load_file(
        write(tmp_path, "deployments:\n- {name: a, image: 127.0.0.1:5000/a:1}\n- {name: b, image: r.io/b}\n")
    )
    docs = load_file(write(tmp_path, "name: a\nimage: 127.0.0.1:5000/a:1\n---\nname: b\nimage: r.io/b\n"))
    assert [d.name for d in listed] == [d.name for d in wrapped] == [d.name for d in docs] == ["a", "b"]
    assert listed == wrapped == docs


def test_pin_takes_a_given_digest_without_the_network(tmp_path: Path) -> None:
    (d,) = load_file(write(tmp_path, f"name: a\nimage: 127.0.0.1:1/a:1\ndigest: '{D}'\n"))
    pinned = pin(d)
    assert pinned.digest == D and pinned.pull_ref == f"127.0.0.1:1/a@{D}"
    (by_ref,) = load_file(write(tmp_path, f"name: a\nimage: 127.0.0.1:1/a@{D}\n"))
    assert pin(by_ref).digest == D


def test_plan_batches_the_online_selected_devices_by_id() -> None:
    views = {}
    for name, role, online in (("d3", "s", True), ("d1", "s", True), ("d2", "g", True), ("d4", "s", False)):
        v = DeviceView(name)
        v.on_presence(protocol.encode({"online": online}))
        v.on_state(protocol.encode({"labels": {"role": role}}))
        views[name] = v
    d = protocol.Deployment.from_dict(
        {"name": "a", "image": "r.io/a", "selector": {"role": "s"}, "rollout": {"batch_size": 1}}
    )
    assert plan(d, views) == (("d1",), ("d3",))  # d4 is offline: it goes after the last batch
    assert plan(protocol.Deployment.from_dict({"name": "a", "image": "r.io/a"}), views) == ()


def test_the_bridge_follows_what_each_container_was_deployed_with() -> None:
    old = protocol.Deployment("relay", "r:1", bridge=("sensor/",)).with_generation()
    new = protocol.Deployment("relay", "r:2", bridge=("alerts/",)).with_generation()
    plain = protocol.Deployment("plain", "p:1").with_generation()

    def container(d: protocol.Deployment, *, recorded: bool = True) -> dict[str, object]:
        labels = {LABEL_DEPLOYMENT: d.name, LABEL_GENERATION: d.generation}
        if recorded and d.bridge:
            labels[LABEL_BRIDGE] = json.dumps(list(d.bridge))
        return {"id": d.name, "labels": labels}

    desired = {"relay": new, "plain": plain}
    assert DaemonHost.bridged([container(new), container(plain)], desired) == {"alerts/"}
    # the new generation held or refused: the old container runs on with its own prefixes
    assert DaemonHost.bridged([container(old)], desired) == {"sensor/"}
    # a container made before the label: its deployment's, at the generation it runs
    assert DaemonHost.bridged([container(new, recorded=False)], desired) == {"alerts/"}
    assert DaemonHost.bridged([container(old, recorded=False)], desired) == set()
    assert DaemonHost.bridged([{"id": "mine", "labels": {LABEL_BRIDGE: '["x/"]'}}], desired) == set()


def test_a_target_that_goes_offline_mid_rollout_is_still_waited_for() -> None:
    from types import SimpleNamespace

    from ocre_py.fleet.control import rollout_status

    d = protocol.Deployment.from_dict({"name": "a", "image": "r.io/a", "selector": {"role": "s"}})
    views = {}
    for name in ("d1", "d2"):
        v = DeviceView(name)
        v.on_presence(protocol.encode({"online": True}))
        v.on_state(protocol.encode({"labels": {"role": "s"}}))
        views[name] = v

    def report(name: str, state: str) -> None:
        progress = {"a": {"generation": d.generation, "state": state}}
        views[name].on_state(protocol.encode({"labels": {"role": "s"}, "deployments": progress}))

    watch: Any = SimpleNamespace(devices=views)
    expected: set[tuple[str, str]] = set()
    assert rollout_status(watch, [d], expected).waiting == ("d1 (pending)", "d2 (pending)")
    report("d2", "running")
    views["d1"].on_presence(protocol.encode({"online": False}))  # killed while it pulled
    status = rollout_status(watch, [d], expected)
    assert (status.done, status.total, status.waiting, status.finished) == (1, 2, ("d1 (offline)",), False)
    assert rollout_status(watch, [d]).finished  # what the count was without remembering d1
    views["d1"].on_presence(protocol.encode({"online": True}))
    report("d1", "running")
    assert rollout_status(watch, [d], expected).finished
    views["d1"].on_state(protocol.encode({"labels": {"role": "other"}}))  # moved away: not waited for
    views["d1"].on_presence(protocol.encode({"online": False}))
    assert rollout_status(watch, [d], expected).finished
