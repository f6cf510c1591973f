"""What fleet readers keep is bounded, whatever clients publish on the broker: a real mosquitto and a
client that publishes more device IDs and deployment names than a reader keeps, and clears of
devices nobody knows."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.fleet import protocol
from ocre_py.fleet.broker import DEFAULT_FLEET, BrokerOptions, connect, make_client
from ocre_py.fleet.observe import FleetWatch
from ocre_py.fleet.state import DeviceView, apply_device_message
from tests.conftest import CliResult
from tests.fleet.broker import Mosquitto
from tests.fleet.nodes import wait_until

F = DEFAULT_FLEET


def publish_all(url: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish retained, QoS 1, and wait for every acknowledgement."""
    client = make_client(BrokerOptions(url), "test-flood")
    connect(BrokerOptions(url), client)
    try:
        infos = [client.publish(topic, payload, qos=1, retain=True) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def presence(device: str) -> tuple[str, bytes]:
    return protocol.presence_topic(F, device), protocol.presence(True)


def deployment(name: str) -> tuple[str, bytes]:
    d = protocol.Deployment(name, "127.0.0.1:5000/x:1").with_generation()
    return protocol.deployment_topic(F, name), protocol.encode(d.to_message())


def test_cleared_messages_of_unknown_devices_add_nothing() -> None:
    views: dict[str, DeviceView] = {}
    for i in range(100):  # clears of devices never seen: nothing to remember
        apply_device_message(views, f"d{i}", "presence", b"")
        apply_device_message(views, f"d{i}", "state", b"")
    assert views == {}
    apply_device_message(views, "d1", "presence", protocol.presence(True))
    apply_device_message(views, "d1", "state", protocol.encode({"labels": {"a": "b"}}))
    apply_device_message(views, "d1", "presence", b"")
    assert set(views) == {"d1"}  # its state is still retained
    apply_device_message(views, "d1", "state", b"")
    assert views == {}  # both cleared: forgotten
    with pytest.raises(InvalidInput):
        apply_device_message(views, "d2", "presence", b"[1]")
    assert views == {}  # a message that does not check out adds nothing either


def test_keep_refuses_a_new_name_past_the_bound() -> None:
    kept = {"a": 1, "b": 2}
    protocol.keep(kept, "a", 10, 2, "deployment")  # a name it has: replaced
    with pytest.raises(InvalidInput, match="deployment c: over the bound of 2"):
        protocol.keep(kept, "c", 3, 2, "deployment")
    assert kept == {"a": 10, "b": 2}


def test_a_watch_keeps_at_most_its_bounds(broker: Mosquitto) -> None:
    flood = [presence(f"d{i:02}") for i in range(20)]
    flood += [deployment(f"app{i:02}") for i in range(10)]
    flood += [(protocol.deployment_topic(F, f"bad{i}"), b"not json") for i in range(5)]
    publish_all(broker.url, flood)
    with FleetWatch(BrokerOptions(broker.url), F, max_devices=5, max_deployments=4) as watch:
        with watch.lock:
            assert len(watch.devices) == 5
            assert len(watch.deployments) + len(watch.invalid) == 4
            assert watch.refused == 15 + 11
            kept = set(watch.deployments) | set(watch.invalid)
        # a deployment it keeps is still followed: deleted, then its place is free again
        publish_all(broker.url, [(protocol.deployment_topic(F, sorted(kept)[0]), b"")])
        watch.wait(lambda: len(watch.deployments) + len(watch.invalid) == 3, 10)
        publish_all(broker.url, [deployment("zz-new")])
        assert watch.wait(lambda: "zz-new" in watch.deployments, 10)


def test_ocre_fleet_says_when_the_fleet_is_larger_than_it_reads(
    broker: Mosquitto, ocre_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_all(broker.url, [presence(f"d{i}") for i in range(4)])
    monkeypatch.setattr(protocol, "MAX_FLEET_DEVICES", 3)
    r = ocre_cli("fleet", "devices", "--json", "--broker", broker.url)
    assert r.code == 0, r.err
    assert len(json.loads(r.out)) == 3
    assert r.err == (
        f"ocre: warning: fleet '{F}' has more than 3 devices or {protocol.MAX_FLEET_DEPLOYMENTS} "
        "deployments; 1 messages about the others were left out\n"
    )


def pinned(name: str, **kw: object) -> protocol.Deployment:
    digest = "sha256:" + "c" * 64
    return protocol.Deployment(name, "127.0.0.1:5000/x:1", digest=digest, **kw).with_generation()  # type: ignore[arg-type]


def retained_deployments(url: str) -> set[str]:
    with FleetWatch(BrokerOptions(url), F) as watch, watch.lock:
        return set(watch.deployments)


def test_apply_publishes_nothing_when_one_deployment_does_not_fit(broker: Mosquitto) -> None:
    from ocre_py.fleet import control

    too_big = pinned("big", args=tuple("x" * 1024 for _ in range(64)))
    with (
        FleetWatch(BrokerOptions(broker.url), F) as watch,
        pytest.raises(InvalidInput, match=r"deployment 'big': fleet message of \d+ bytes is over the 65536"),
    ):
        control.apply(watch, [pinned("ok"), too_big])
    assert retained_deployments(broker.url) == set()  # 'ok' was not published either

    publish_all(broker.url, [deployment(f"app{i:02}") for i in range(protocol.MAX_DEPLOYMENTS - 1)])
    with FleetWatch(BrokerOptions(broker.url), F) as watch:
        with pytest.raises(InvalidInput, match=f"fleet '{F}' would have 65 deployments: members run at most"):
            control.apply(watch, [pinned("one"), pinned("two")])
        (applied,) = control.apply(watch, [pinned("one")])  # the 64th fits
        assert applied.action == "created"
    assert len(retained_deployments(broker.url)) == protocol.MAX_DEPLOYMENTS


def test_the_broker_keeps_packets_past_the_protocol_from_the_fleet(broker: Mosquitto) -> None:
    """The brokers of these tests are configured as docs/fleet.md says (``max_packet_size``): the
    largest message of the protocol passes, a larger one never reaches paho in any reader."""
    import os
    import threading

    fleet, topic = "f" * 63, "t" * protocol.MAX_TEXT
    largest = protocol.Envelope("h" * protocol.MAX_TEXT, topic, "c" * protocol.MAX_TEXT, os.urandom(65536))
    got: list[int] = []
    arrived = threading.Event()
    reader = make_client(BrokerOptions(broker.url), "test-reader")
    reader.on_message = lambda _c, _u, m: (got.append(len(m.payload)), arrived.set())
    subscribed = threading.Event()
    reader.on_subscribe = lambda *_a: subscribed.set()
    connect(BrokerOptions(broker.url), reader, on_connect=lambda c: c.subscribe("ocre/#", qos=1))
    try:
        assert subscribed.wait(10)
        publish_all(broker.url, [(protocol.bus_topic(fleet, topic), largest.encode())])
        assert arrived.wait(10) and got == [len(largest.encode())]
        sender = make_client(BrokerOptions(broker.url), "test-oversized")
        connect(BrokerOptions(broker.url), sender)
        try:
            big = b"x" * (protocol.MAX_PACKET + 1)
            info = sender.publish(protocol.deployment_topic(F, "big"), big, qos=1, retain=True)
            wait_until(lambda: not sender.is_connected(), 10, "the broker to drop the sender")
            assert not info.is_published()
        finally:
            sender.disconnect()
            sender.loop_stop()
        publish_all(broker.url, [deployment("after")])
        with FleetWatch(BrokerOptions(broker.url), F) as watch, watch.lock:
            assert set(watch.deployments) == {"after"} and watch.invalid == {}
        assert max(got) < protocol.MAX_PACKET  # 'after' came, 'big' never did
    finally:
        reader.disconnect()
        reader.loop_stop()
