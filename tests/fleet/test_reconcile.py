"""The fleet's pure parts: topic schema, deployment checks, generations, and the reconcile decision."""

from __future__ import annotations

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.fleet import protocol as p
from ocre_py.fleet.reconcile import Apply, Hold, Peer, Progress, Remove, decide, gate, watched

D = "sha256:" + "a" * 64


def dep(**kw: object) -> p.Deployment:
    return p.Deployment.from_dict({"name": "hello", "image": "127.0.0.1:5000/hello:1", **kw})


def test_topics_round_trip() -> None:
    assert p.parse_topic("f", p.state_topic("f", "d1")) == ("devices", "d1", "state")
    assert p.parse_topic("f", p.presence_topic("f", "d1")) == ("devices", "d1", "presence")
    assert p.parse_topic("f", p.deployment_topic("f", "web")) == ("deployments", "web", "")
    assert p.parse_topic("f", p.bus_topic("f", "sensor/t")) == ("bus", "", "sensor/t")
    assert p.parse_topic("f", "ocre/v1/g/deployments/web") is None
    assert p.parse_topic("f", "ocre/v1/f/devices/d1/other") is None


def test_bus_filter_covers_string_prefixes() -> None:
    assert p.bus_filter("f", "sensor/") == "ocre/v1/f/bus/sensor/#"
    assert p.bus_filter("f", "sensor/te") == "ocre/v1/f/bus/sensor/#"
    assert p.bus_filter("f", "sens") == "ocre/v1/f/bus/#"


def test_generation_is_content_and_stable() -> None:
    a, b = dep(), dep()
    assert a.generation == b.generation and len(a.generation) == 16
    assert dep(args=["x"]).generation != a.generation
    assert dep(selector={"role": "sensor"}).generation != a.generation
    # the rollout plan is bookkeeping, not content
    assert dep(plan=[["d1"]], rollout={"batch_size": 1}).generation == a.generation
    again = p.Deployment.from_dict(p.decode(p.encode(a.to_message()), "x"))
    assert again == a


def test_generation_mismatch_is_refused() -> None:
    msg = dep().to_message()
    msg["args"] = ["tampered"]
    with pytest.raises(InvalidInput, match="generation"):
        p.Deployment.from_dict(msg)


@pytest.mark.parametrize(
    ("field", "value", "expect"),
    [
        ("name", "Bad/Name", "name"),
        ("selector", {"k": ["x"]}, "selector.k"),
        ("bridge", ["a/#"], "bridge"),
        ("rollout", {"batch_size": -1}, "rollout.batch_size"),
        ("digest", "sha256:12", "digest"),
        ("colour", "red", "unknown key 'colour'"),
    ],
)
def test_bad_deployments_name_the_field(field: str, value: object, expect: str) -> None:
    with pytest.raises(InvalidInput, match=expect):
        dep(**{field: value})


def test_pull_ref_pins_the_digest() -> None:
    assert dep(digest=D).pull_ref == f"127.0.0.1:5000/hello@{D}"
    assert dep(image="localhost:5000/a/b", digest=D).pull_ref == f"localhost:5000/a/b@{D}"
    assert dep().pull_ref == "127.0.0.1:5000/hello:1"


def test_decode_is_bounded() -> None:
    with pytest.raises(InvalidInput, match="bound"):
        p.decode(b"{" + b" " * p.MAX_MESSAGE + b"}", "x")
    with pytest.raises(InvalidInput, match="JSON object"):
        p.decode(b"[1]", "x")


def test_envelope_binary_and_text() -> None:
    for body in (b"21.5", b"\xff\x00"):
        e = p.Envelope("d1", "sensor/t", "application/octet-stream", body)
        assert p.Envelope.decode("sensor/t", e.encode()) == e


def test_decide_apply_replace_remove_idempotent() -> None:
    web = dep(selector={"role": "sensor"})
    labels = {"role": "sensor"}
    assert decide("d1", labels, {"hello": web}, {}) == [Apply(web)]
    done = {"hello": Progress(web.generation, "running")}
    assert decide("d1", labels, {"hello": web}, done) == []  # re-apply: nothing
    old = {"hello": Progress("0" * 16, "running")}
    assert decide("d1", labels, {"hello": web}, old) == [Apply(web)]
    assert decide("d1", {"role": "gateway"}, {"hello": web}, done) == [Remove("hello")]
    assert decide("d1", labels, {}, done) == [Remove("hello")]
    failed = {"hello": Progress(web.generation, "failed", error="unsigned")}
    assert decide("d1", labels, {"hello": web}, failed) == []  # not retried until re-applied


def test_batched_rollout_gates_on_previous_batch() -> None:
    d = dep(rollout={"batch_size": 1}, plan=[["d1"], ["d2"]])
    assert gate(d, "d1", {}) is None
    hold = gate(d, "d2", {"d1": Peer(True, {})})
    assert isinstance(hold, Hold) and not hold.stopped and "waiting for batch 0" in hold.reason
    ok = {"d1": Peer(True, {"hello": Progress(d.generation, "running")})}
    assert gate(d, "d2", ok) is None
    assert gate(d, "d3", ok) is not None  # not in the plan: after the last batch (d2)
    bad = {"d1": Peer(True, {"hello": Progress(d.generation, "failed", error="pull failed")})}
    stop = gate(d, "d2", bad)
    assert stop is not None and stop.stopped and "d1 (pull failed)" in stop.reason
    offline = gate(d, "d2", {"d1": Peer(False, {})})
    assert offline is not None and offline.stopped and "offline" in offline.reason
    tolerant = dep(rollout={"batch_size": 1, "max_unavailable": 1}, plan=[["d1"], ["d2"]])
    assert gate(tolerant, "d2", {"d1": Peer(False, {})}) is None
    assert hold.progress == Progress(d.generation, "held", d.digest, reason=hold.reason)
    assert (stop.progress.state, stop.progress.reason, stop.progress.error) == ("stopped", stop.reason, None)


def test_a_held_device_reports_the_same_progress_while_the_batch_before_advances() -> None:
    """A member republishes its state when its progress changes, and each member of the next batch
    receives every copy and decides again: a reason counting the devices done would republish it at
    each one of them (batch_size copies per member, batch_size² deliveries to the next batch)."""
    d = dep(rollout={"batch_size": 3}, plan=[["d1", "d2", "d3"], ["d4"]])
    running, pulling = Progress(d.generation, "running"), Progress(d.generation, "pulling")
    holds = []
    for done in range(3):  # 0, 1, then 2 of d1..d3 done; the next one pulling, the rest not heard of
        progress = [running] * done + [pulling] + [None] * (2 - done)
        peers = {f"d{i + 1}": Peer(True, {"hello": pr} if pr else {}) for i, pr in enumerate(progress)}
        holds.append(gate(d, "d4", peers))
    assert all(isinstance(h, Hold) and not h.stopped for h in holds)
    assert len({h.progress for h in holds if h is not None}) == 1
    assert "waiting for batch 0" in holds[0].reason  # type: ignore[union-attr]


def test_members_follow_the_batch_before_theirs() -> None:
    d = dep(selector={"role": "s"}, rollout={"batch_size": 2}, plan=[["d1", "d2"], ["d3", "d4"]])
    assert d.previous_batch("d1") == () and d.previous_batch("d3") == ("d1", "d2")
    assert d.previous_batch("d9") == ("d3", "d4")  # not in the plan: after the last batch
    assert dep(plan=[["d1"], ["d2"]]).previous_batch("d2") == ()  # no batch_size: all at once
    assert watched("d3", {"role": "s"}, {"hello": d}) == {"d1", "d2"}
    assert watched("d3", {"role": "other"}, {"hello": d}) == set()  # not selected: nobody to follow
    assert watched("d1", {"role": "s"}, {"hello": d}) == set()
