"""Bridging through real members: two ``ocre daemon --fleet`` processes on a real mosquitto, a
deployment with ``bridge: [sensor/]`` applied with ``ocre fleet apply``, ``ocre publish`` and
``ocre subscribe`` on each daemon's socket, then a publisher container on one daemon and a
subscriber container on the other; after ``ocre fleet rm`` nothing is bridged any more."""

from __future__ import annotations

import json
import select
import subprocess
import time
from typing import Any

from tests.fleet.members import BLINKY_ARGS, OCRE, Fleet, MemberProcess, state_of

QUIET = 1.0  # seconds a message that must not come is given to come anyway


class HostSubscriber:
    """``ocre subscribe PREFIX -H <daemon> -n COUNT --json`` as a process, started once the daemon
    has registered it (its "subscribed to" line on stderr)."""

    def __init__(self, member: MemberProcess, prefix: str, count: int = 1) -> None:
        self.proc = subprocess.Popen(
            [*OCRE, "subscribe", prefix, "-H", member.host, "-n", str(count), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        ready, _, _ = select.select([self.proc.stderr], [], [], 30)
        line = self.proc.stderr.readline() if ready else ""
        assert line.startswith("subscribed to"), f"ocre subscribe did not start: {line!r}"

    def messages(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every message, once the subscriber has its COUNT (a bounded wait)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            self.proc.kill()
        assert self.proc.returncode == 0, err
        return [json.loads(line) for line in out.splitlines()]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def test_members_bridge_the_prefixes_of_what_they_run(fleet: Fleet) -> None:
    a, b = fleet.join(a={"role": "a"}, b={"role": "b"})
    relay = fleet.push("relay:1", "blinky", args=BLINKY_ARGS)
    spec = f"name: relay\nimage: {relay}\ncapabilities: ['ocre:api']\nbridge: ['sensor/']\n"
    r = fleet.apply(spec, "--wait", "--timeout", "60")
    assert r.code == 0, r.err + a.output()[-2000:]

    # A host tool on daemon A reaches a host tool on daemon B, content type and all.
    on_b = HostSubscriber(b, "sensor/")
    r = fleet.cli("publish", "sensor/t", "21.5", "--content-type", "text/x-celsius", "-H", a.host)
    assert r.code == 0, r.err
    (message,) = on_b.messages()
    assert {k: message[k] for k in ("topic", "content_type", "payload")} == {
        "topic": "sensor/t",
        "content_type": "text/x-celsius",
        "payload": "21.5",
    }

    # A new generation refused on both (unsigned): the old containers run on, and bridge on.
    r = fleet.apply(spec + "require_signature: true\n")
    assert r.code == 0, r.err
    fleet.wait(lambda w: {state_of(w, d, "relay") for d in ("a", "b")} == {"failed"}, "the refusal")
    on_b = HostSubscriber(b, "sensor/")
    assert fleet.cli("publish", "sensor/t", "22", "-H", a.host).code == 0
    assert [m["payload"] for m in on_b.messages()] == ["22"]

    # A prefix no deployment bridges stays on its daemon. A forwards in order on one connection,
    # so had other/x crossed, B would see it before sensor/h; and each crosses once.
    on_a_other = HostSubscriber(a, "other/")
    on_b_all = HostSubscriber(b, "", count=2)
    try:
        assert fleet.cli("publish", "other/x", "local", "-H", a.host).code == 0
        assert fleet.cli("publish", "sensor/h", "40", "-H", a.host).code == 0
        assert fleet.cli("publish", "sensor/i", "41", "-H", a.host).code == 0
        assert [m["topic"] for m in on_b_all.messages()] == ["sensor/h", "sensor/i"]
        assert [m["topic"] for m in on_a_other.messages()] == ["other/x"]
    finally:
        on_a_other.stop()
        on_b_all.stop()

    # Container to container: a publisher deployed on A, a subscriber (3 messages) on B.
    pub, sub = fleet.push("publisher:1", "publisher"), fleet.push("subscriber:1", "subscriber")
    pair = (
        f"- {{name: sub, image: {sub}, selector: {{role: b}}, args: ['3'], capabilities: ['ocre:api'],"
        " bridge: ['sensor/']}\n"
        f"- {{name: pub, image: {pub}, selector: {{role: a}}, args: ['0', '100'],"
        " capabilities: ['ocre:api'], bridge: ['sensor/']}\n"
    )
    path = fleet.root / "pair.yaml"
    path.write_text(pair)
    r = fleet.fleet("apply", path)
    assert r.code == 0, r.err
    fleet.wait(lambda w: state_of(w, "b", "sub") == "exited", "the subscriber container to get 3", 60)
    logs = b"".join(b.client().logs("sub")).decode()
    received = [ln for ln in logs.splitlines() if ln.startswith("received")]
    assert len(received) == 3, logs
    assert all(ln.startswith('received sensor/temperature [application/json]: {"seq":') for ln in received)

    # Removed: the members bridge nothing any more.
    r = fleet.fleet("rm", "relay", "pub", "sub")
    assert r.code == 0, r.err
    fleet.wait(
        lambda w: all(state_of(w, d, n) is None for d in ("a", "b") for n in ("relay", "pub", "sub")),
        "every deployment to be removed",
    )
    r = fleet.cli("publish", "sensor/t", "21.5", "-H", a.host)
    assert r.code == 1 and "no subscriber for topic 'sensor/t'" in r.err  # A's bridge let go of it
    on_b = HostSubscriber(b, "")
    try:
        r = fleet.cli("publish", "sensor/t", "from the bus", "--broker", fleet.broker.url)
        assert r.code == 0, r.err
        time.sleep(QUIET)
        assert fleet.cli("publish", "zz/end", "local", "-H", b.host).code == 0
        assert [m["topic"] for m in on_b.messages()] == ["zz/end"]  # nothing came in from the bus
    finally:
        on_b.stop()
