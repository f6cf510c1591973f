"""Issue 15, joining and desired state: real ``ocre daemon --fleet`` members, a real mosquitto, a real
docker-registry, and ``ocre fleet`` in-process. Every wait is on the fleet's retained messages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ocre_py.fleet import protocol
from ocre_py.fleet.broker import DEFAULT_FLEET, BrokerOptions, connect, make_client
from ocre_py.fleet.observe import FleetWatch
from ocre_py.image.signing import generate_key, import_key
from ocre_py.image.store import ImageStore
from tests.conftest import CliResult
from tests.fleet.members import BLINKY_ARGS, Fleet, online, state_of


class DeploymentCounter:
    """Counts deployment messages the broker forwards live (not the retained burst), from the
    moment the broker holds its subscription (so a publish cannot slip by uncounted)."""

    def __init__(self, url: str) -> None:
        self.count = 0
        self.client = make_client(BrokerOptions(url), "counter")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        connect(
            BrokerOptions(url),
            self.client,
            on_connect=lambda c: c.subscribe(protocol.deployments_filter(DEFAULT_FLEET), qos=1),
        )
        assert subscribed.wait(10), "the counter's SUBACK"

    def _on_message(self, _c: object, _u: object, msg: Any) -> None:
        if not msg.retain:
            self.count += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_join_apply_by_selector_reapply_move_and_rm(fleet: Fleet) -> None:
    fleet.join(d1={"role": "sensor"}, d2={"role": "sensor"}, d3={"role": "gateway"})
    devices = fleet.devices()
    assert {d: (r["online"], r["labels"]) for d, r in devices.items()} == {
        "d1": (True, {"role": "sensor"}),
        "d2": (True, {"role": "sensor"}),
        "d3": (True, {"role": "gateway"}),
    }
    ref = fleet.push("blinky:1", "blinky", args=BLINKY_ARGS)
    spec = f"name: blinky\nimage: {ref}\nselector: {{role: sensor}}\ncapabilities: ['ocre:api']\n"
    r = fleet.apply(spec, "--wait", "--timeout", "60")
    assert r.code == 0, r.err
    assert r.out.startswith("blinky: created (generation ")
    for device in ("d1", "d2"):
        (c,) = fleet.fleet_containers(device).values()
        assert c["id"] == "blinky" and c["status"] == "RUNNING"
        assert c["labels"]["ocre.fleet.deployment"] == "blinky"
    assert fleet.fleet_containers("d3") == {}
    rows = fleet.ps()
    assert [(r["device"], r["deployment"], r["container"], r["state"]) for r in rows] == [
        ("d1", "blinky", "blinky", "running"),
        ("d2", "blinky", "blinky", "running"),
    ]
    assert all(r["online"] and r["digest"].startswith("sha256:") for r in rows)

    # the state message keeps its documented shape
    with fleet.watch.lock:  # type: ignore[union-attr]
        state = fleet.watch.devices["d1"].state  # type: ignore[union-attr]
    assert state is not None
    assert set(state) == {
        "protocol", "device", "labels", "ts", "version", "health", "resources", "deployments", "containers"
    }  # fmt: skip
    assert set(state["health"]) == {"status", "uptime_s", "restarting"} and state["health"]["status"] == "ok"
    assert set(state["resources"]) == {"rss_bytes", "cpus", "disk_free_bytes", "containers"}
    assert state["deployments"]["blinky"]["container"] == "blinky"
    assert state["containers"] == [
        {
            "id": "blinky",
            "image": ref,
            "status": "RUNNING",
            "digest": state["containers"][0]["digest"],
            "deployment": "blinky",
        }
    ]

    # re-applying the same file publishes nothing
    counter = DeploymentCounter(fleet.broker.url)
    try:
        again = fleet.apply(spec)
        assert again.code == 0 and again.out.startswith("blinky: unchanged"), again.err
        moved = fleet.apply(spec.replace("role: sensor", "role: gateway"), "--wait", "--timeout", "60")
        assert moved.code == 0 and moved.out.startswith("blinky: updated"), moved.err
    finally:
        counter.close()
    assert counter.count == 1  # only the selector change
    fleet.wait(
        lambda w: state_of(w, "d1", "blinky") is None and state_of(w, "d2", "blinky") is None,
        "blinky to leave the sensors",
    )
    assert fleet.fleet_containers("d1") == {} and fleet.fleet_containers("d2") == {}
    assert set(fleet.fleet_containers("d3")) == {"blinky"}

    rm = fleet.fleet("rm", "blinky")
    assert rm.code == 0 and rm.out == "blinky\n", rm.err
    fleet.wait(lambda w: state_of(w, "d3", "blinky") is None, "blinky to be removed")
    assert fleet.fleet_containers("d3") == {}
    assert fleet.ps() == []
    unknown = fleet.fleet("rm", "nope")
    assert unknown.code == 1
    assert unknown.err.splitlines()[0] == "ocre: error: no such deployment in fleet 'default': nope"


def test_unmanaged_containers_are_never_touched(fleet: Fleet) -> None:
    (member,) = fleet.join(d1={"role": "sensor"})
    client = member.client()
    client.import_image("mine.wasm", fleet.modules["blinky"].read_bytes())
    client.create(
        {"image": "mine.wasm", "name": "mine", "args": list(BLINKY_ARGS), "capabilities": ["ocre:api"]},
        start=True,
    )
    ref = fleet.push("blinky:1", "blinky", args=BLINKY_ARGS)
    r = fleet.apply(f"name: b\nimage: {ref}\ncapabilities: ['ocre:api']\n", "--wait")
    assert r.code == 0, r.err
    assert fleet.fleet("rm", "b").code == 0
    fleet.wait(lambda w: state_of(w, "d1", "b") is None, "b to be removed")
    assert member.containers()["mine"]["status"] == "RUNNING"
    taken = fleet.apply(f"name: mine\nimage: {ref}\ncapabilities: ['ocre:api']\n", "--wait")
    assert taken.code == 1
    assert "container 'mine' exists and is not the fleet's" in taken.err.splitlines()[0]
    assert member.containers()["mine"]["status"] == "RUNNING"

    assert member.stop() == 0  # a clean stop says offline itself
    fleet.wait(lambda w: not w.devices["d1"].online, "d1's offline presence")
    assert "is online in fleet 'default'" in member.output()


def test_killed_member_is_offline_by_its_will_and_converges_when_back(fleet: Fleet) -> None:
    _, d2 = fleet.join(d1={"role": "sensor"}, d2={"role": "sensor"})
    ref = fleet.push("blinky:1", "blinky", args=BLINKY_ARGS)
    old = f"name: old\nimage: {ref}\nselector: {{role: sensor}}\ncapabilities: ['ocre:api']\n"
    assert fleet.apply(old, "--wait").code == 0

    d2.kill9()
    fleet.wait(lambda w: not w.devices["d2"].online, "d2's Will")
    assert {r["device"]: r["online"] for r in fleet.ps()} == {"d1": True, "d2": False}
    assert fleet.devices()["d2"]["online"] is False

    # while d2 is away: 'old' goes, 'new' comes; --wait waits for online devices only
    assert fleet.fleet("rm", "old").code == 0
    new = old.replace("name: old", "name: new")
    r = fleet.apply(new, "--wait", "--timeout", "60")
    assert r.code == 0, r.err
    assert set(fleet.fleet_containers("d1")) == {"new"}

    d2.start()
    fleet.wait(
        lambda w: (
            online(w, "d2") and state_of(w, "d2", "new") == "running" and state_of(w, "d2", "old") is None
        ),
        "d2 to converge",
    )
    assert set(fleet.fleet_containers("d2")) == {"new"}


def test_broker_restart_members_reconnect_and_state_is_kept(fleet: Fleet) -> None:
    (d1,) = fleet.join(d1={"role": "sensor"})
    ref = fleet.push("blinky:1", "blinky", args=BLINKY_ARGS)
    spec = f"name: blinky\nimage: {ref}\ncapabilities: ['ocre:api']\n"
    assert fleet.apply(spec, "--wait").code == 0
    started = d1.containers()["blinky"]["started_at"]
    assert fleet.watch is not None
    fleet.watch.close()

    fleet.broker.restart()
    with FleetWatch(BrokerOptions(fleet.broker.url), DEFAULT_FLEET) as watch:
        fleet.watch = watch
        assert "blinky" in watch.deployments  # retained, from the broker's persistence
        again = fleet.apply(spec)
        assert again.code == 0 and again.out.startswith("blinky: unchanged"), again.err
        # d1 reconnects (paho's backoff) and takes a new deployment
        second = spec.replace("name: blinky", "name: second")
        assert fleet.apply(second, "--wait", "--timeout", "60").code == 0
        fleet.wait(lambda w: state_of(w, "d1", "second") == "running", "d1 to run 'second'")
        assert d1.containers()["blinky"]["started_at"] == started  # untouched by the restart


def test_require_signature_refuses_an_unsigned_image_fleet_wide(fleet: Fleet, tmp_path: Path) -> None:
    d1, d2 = fleet.join(d1={}, d2={})
    keys = tmp_path / "publisher-keys"
    pair = generate_key("release", key_dir=keys)
    for m in (d1, d2):  # what 'ocre key import' does on each device
        import_key("release", pair.public_path, key_dir=m.home / "keys")
    ref = fleet.push("plain:1", "hello")
    r = fleet.apply(f"name: plain\nimage: {ref}\nrequire_signature: true\n", "--wait")
    assert r.code == 1
    (line,) = r.err.splitlines()[:1]
    assert line.startswith("ocre: error: deployment 'plain' failed on d") and "is not signed" in line
    fleet.wait(
        lambda w: state_of(w, "d1", "plain") == "failed" and state_of(w, "d2", "plain") == "failed",
        "both members to refuse it",
    )
    for row in fleet.ps():
        assert row["state"] == "failed"
        assert "is not signed; refusing it (require-signature in deployment 'plain')" in row["error"]
    assert fleet.fleet_containers("d1") == {} and fleet.fleet_containers("d2") == {}
    for m in (d1, d2):  # what a member refused does not stay in its store
        assert ImageStore(m.home / "store").images() == []

    # signed by a key the members trust, the same deployment runs
    signed = fleet.push("signed:1", "hello", sign_with=str(pair.private_path))
    ok = fleet.apply(f"name: plain\nimage: {signed}\nrequire_signature: true\n", "--wait")
    assert ok.code == 0, ok.err  # done: running, or exited with 0 already
    fleet.wait(
        lambda w: state_of(w, "d1", "plain") == "exited" and state_of(w, "d2", "plain") == "exited",
        "hello to run to completion on both",
    )
    assert {(r["device"], r["state"], r["error"]) for r in fleet.ps()} == {
        ("d1", "exited", None),
        ("d2", "exited", None),
    }


def test_batched_rollout_stops_when_a_batch_fails(fleet: Fleet) -> None:
    fleet.join(d1={"role": "sensor"}, d2={"role": "sensor"})
    good = fleet.push("app:1", "blinky", args=BLINKY_ARGS)
    spec = (
        f"name: app\nimage: {good}\nselector: {{role: sensor}}\ncapabilities: ['ocre:api']\n"
        "rollout: {batch_size: 1}\n"
    )
    r = fleet.apply(spec, "--wait", "--timeout", "60")
    assert r.code == 0 and "2 batches" in r.out, r.err
    first = fleet.fleet_containers("d2")["app"]["labels"]["ocre.fleet.generation"]

    bad = fleet.push("app:2", "hello")  # hello exits with $EXIT_CODE
    failing = spec.replace(good, bad) + "env: {EXIT_CODE: '3'}\n"
    r = fleet.apply(failing, "--wait", "--timeout", "60")
    assert r.code == 1
    assert r.err.splitlines()[0] in (
        "ocre: error: deployment 'app' failed on d1: exited with code 3",
        "ocre: error: deployment 'app' stopped on d2: rollout stopped at batch 1: batch 0 has 1 failed "
        "or offline (max_unavailable 0): d1 (exit code 3)",
    )
    fleet.wait(lambda w: state_of(w, "d2", "app") == "stopped", "batch 1 to stop")
    rows = {r["device"]: r for r in fleet.ps()}
    assert rows["d1"]["state"] == "exited" and rows["d2"]["state"] == "stopped"
    assert "rollout stopped at batch 1" in rows["d2"]["error"]
    d2 = fleet.fleet_containers("d2")["app"]
    assert d2["status"] == "RUNNING" and d2["labels"]["ocre.fleet.generation"] == first  # the old one runs on

    assert fleet.fleet("rm", "app").code == 0  # removed everywhere, whatever state it was in
    fleet.wait(lambda w: not w.devices["d1"].deployments and not w.devices["d2"].deployments, "app to go")
    assert fleet.fleet_containers("d1") == {} and fleet.fleet_containers("d2") == {}


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("name: a\n", "deploy.yaml: document: missing required key 'image'"),
        ("name: a\nimage: 127.0.0.1:5000/a:1\ncolour: red\n", "deploy.yaml: unknown key 'colour'"),
        ("name: a\nimage: 127.0.0.1:5000/a:1\nrollout: {batch_size: x}\n",
         "deploy.yaml: rollout.batch_size 'x'"),
        ("name: A/b\nimage: 127.0.0.1:5000/a:1\n", "deploy.yaml: deployment.name 'A/b'"),
        ("name: a\nimage: hello:1\n", "deploy.yaml: deployment 'a' image 'hello:1': expected HOST[:PORT]"),
        ("name: a\nimage: 127.0.0.1:5000/a:1\ncapabilities: [gpu]\n",
         "deploy.yaml: capability 'gpu': expected one of"),
        ("name: a\nimage: 127.0.0.1:5000/a:1\nrestart: sometimes\n",
         "deploy.yaml: restart policy 'sometimes': expected"),
        ("name: a\nimage: 127.0.0.1:5000/a:1\nrestart: unless-stopped\n",
         "deploy.yaml: restart policy 'unless-stopped': expected"),
        ("name: a\nimage: 127.0.0.1:5000/a:1\nmemory: lots\n",
         "deploy.yaml: deployment 'a' memory 'lots': expected a byte count"),
        ("name: a\nimage: 127.0.0.1:5000/a:1\nargs: [" + ",".join(["x" * 1024] * 64) + "]\n",
         "deploy.yaml: deployment 'a': fleet message of 66015 bytes is over the 65536-byte bound"),
        ("".join(f"- {{name: a{i}, image: 127.0.0.1:5000/a:1}}\n" for i in range(65)),
         "deploy.yaml: 65 deployments: expected at most 64"),
        ("- {name: a, image: 127.0.0.1:5000/a:1}\n- {name: a, image: 127.0.0.1:5000/b:1}\n",
         "deploy.yaml: deployments[1]: name 'a' is already used by"),
        ("deployments:\n- {name: a, image: 127.0.0.1:5000/a:1}\n- {name: b}\n",
         "deploy.yaml: deployments[1]: document: missing required key 'image'"),
        ("name: a\nimage: [\n", "deploy.yaml:3: not valid YAML"),
        ("", "deploy.yaml: no deployments in the file"),
    ],
)  # fmt: skip
def test_bad_deployment_files_name_file_and_field(
    text: str, expect: str, ocre_cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(text)
    r = ocre_cli("fleet", "apply", path, "--broker", "mqtt://127.0.0.1:1")  # fails before any broker
    assert r.code == 2, r.err
    line = r.err.splitlines()[0]
    assert line.startswith(f"ocre: error: {tmp_path}/{expect}"), line
    assert r.out == ""


def test_fleet_commands_need_a_reachable_broker(ocre_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    r = ocre_cli("fleet", "ps")
    assert r.code == 2 and r.err.startswith("ocre: error: no broker: give --broker")
    r = ocre_cli("fleet", "ps", "--broker", "http://x")
    assert r.code == 2 and "broker 'http://x': expected mqtt://HOST[:PORT]" in r.err
    from tests.ports import free_port

    r = ocre_cli("fleet", "devices", "--broker", f"mqtt://127.0.0.1:{free_port()}")
    assert r.code == 1 and r.err.startswith("ocre: error: cannot reach the fleet broker mqtt://127.0.0.1:")


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["--fleet", "mqtt://127.0.0.1:1883"], "--fleet needs --device-id ID"),
        (["--fleet", "tcp://x", "--device-id", "d1"], "broker 'tcp://x': expected mqtt://HOST[:PORT]"),
        (["--fleet", "mqtt://h", "--device-id", "D 1"], "--device-id 'D 1': expected 1-63 of"),
        (["--fleet", "mqtt://h", "--device-id", "d1", "--label", "x"], "--label 'x': expected KEY=VALUE"),
        (["--device-id", "d1"], "--device-id needs --fleet"),
    ],
)
def test_daemon_fleet_options_are_checked_before_it_starts(
    argv: list[str], expect: str, ocre_cli: Callable[..., CliResult]
) -> None:
    r = ocre_cli("daemon", *argv)
    assert r.code == 2, r.err
    assert expect in r.err.splitlines()[0]
