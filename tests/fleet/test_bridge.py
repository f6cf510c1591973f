"""Bridging between two real daemons through a real mosquitto: content, loops, bounds, host tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.fleet import bus
from ocre_py.fleet.bridge import Bridge, EchoLedger, minimal_filters, minimal_prefixes
from ocre_py.fleet.broker import BrokerOptions
from ocre_py.fleet.protocol import MAX_BUS_PAYLOAD, MAX_ENVELOPE, MAX_MESSAGE, Envelope, bus_topic
from tests.daemon.conftest import OCRE
from tests.fleet.broker import Mosquitto
from tests.fleet.nodes import FLEET, BusSpy, Node, wait_until
from tests.ports import free_port

QUIET = 1.0  # seconds without traffic before counting messages: a loop would keep adding some


@pytest.fixture
def nodes(tmp_path: Path, broker: Mosquitto) -> Iterator[tuple[Node, Node]]:
    a = Node(tmp_path, broker.url, "a")
    b = Node(tmp_path, broker.url, "b")
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_message_crosses_intact_and_never_loops(nodes: tuple[Node, Node], broker: Mosquitto) -> None:
    a, b = nodes
    spy = BusSpy(broker.url)
    try:
        a.bridge_prefixes({"sensor/"})
        b.bridge_prefixes({"sensor/", "sensor/t"})  # covered: still one subscription, one copy
        assert b.bridge.prefixes == {"sensor/"}
        on_a, on_b = a.listen("sensor/"), b.listen("sensor/")

        binary = bytes(range(256)) * 4
        assert a.daemon.publish("sensor/raw", binary, "application/octet-stream") == 0
        assert a.daemon.publish("sensor/t", b"21.5", "text/plain") == 0
        wait_until(lambda: len(on_b) == 2, 10, "both messages on daemon B")
        wait_until(lambda: len(spy.messages) == 2 and a.bridge.stats["own"] == 2, 10, "A's copies back")
        time.sleep(QUIET)

        assert [(m.topic, m.content_type, m.payload) for m in on_b] == [
            (b"sensor/raw", b"application/octet-stream", binary),
            (b"sensor/t", b"text/plain", b"21.5"),
        ]
        assert len(on_a) == 2  # A's own local delivery; nothing came back from the bus
        assert len(on_b) == 2
        assert [t for t, _ in spy.messages] == [bus_topic(FLEET, "sensor/raw"), bus_topic(FLEET, "sensor/t")]
        assert Envelope.decode("sensor/raw", spy.messages[0][1]).origin == "a"
        assert a.bridge.stats["forwarded"] == 2 and a.bridge.stats["own"] == 2
        assert a.bridge.stats["injected"] == 0
        assert b.bridge.stats["injected"] == 2 and b.bridge.stats["echoes"] == 2
        assert b.bridge.stats["forwarded"] == 0

        # And back: B's container side answers on the same prefix.
        assert b.daemon.publish("sensor/ack", b"ok", "text/plain") == 0
        wait_until(lambda: len(on_a) == 3, 10, "the answer on daemon A")
        wait_until(lambda: len(spy.messages) == 3 and b.bridge.stats["own"] == 1, 10, "B's copy back")
        time.sleep(QUIET)
        assert len(spy.messages) == 3 and len(on_a) == 3 and len(on_b) == 3
        assert len(a.bridge.echoes) == 0 and len(b.bridge.echoes) == 0
    finally:
        spy.close()


def test_only_bridged_prefixes_cross(nodes: tuple[Node, Node], broker: Mosquitto) -> None:
    a, b = nodes
    spy = BusSpy(broker.url)
    try:
        a.bridge_prefixes({"sensor/"})
        b.bridge_prefixes({"sens"})  # a prefix inside a level: MQTT filter bus/#, string filter here
        assert b.bridge.filters == {f"ocre/v1/{FLEET}/bus/#"}
        on_b = b.listen("")
        a.listen("other/")  # so A's local publish has a subscriber
        assert a.daemon.publish("other/x", b"local only", "text/plain") == 0
        assert a.daemon.publish("sensor/+bad", b"x", "text/plain") == 0  # MQTT cannot carry '+'
        bus.publish(BrokerOptions(broker.url), FLEET, "other/y", b"from a host")  # B gets, ignores
        assert a.daemon.publish("sensor/ok", b"y", "text/plain") == 0
        wait_until(lambda: len(on_b) == 1, 10, "the bridged message")
        wait_until(lambda: b.bridge.stats["unselected"] == 1 and len(spy.messages) == 2, 10, "the rest")
        time.sleep(QUIET)
        assert [m.topic for m in on_b] == [b"sensor/ok"]
        assert [t for t, _ in spy.messages] == [bus_topic(FLEET, "other/y"), bus_topic(FLEET, "sensor/ok")]
        assert a.bridge.stats["not_bridgeable"] == 1
        assert b.bridge.stats["unselected"] == 1

        # Unbridged: nothing crosses any more, on either side.
        b.bridge.update(set())
        assert b.bridge.filters == frozenset() and b.bridge.prefixes == frozenset()
        assert a.daemon.publish("sensor/late", b"z", "text/plain") == 0
        time.sleep(QUIET)
        assert [m.topic for m in on_b] == [b"sensor/ok"]
    finally:
        spy.close()


def test_64_kib_payloads_cross_whatever_their_bytes(nodes: tuple[Node, Node], broker: Mosquitto) -> None:
    """Local messaging carries 64 KiB; so does the bus, binary (base64 grows it by a third) or text
    that JSON would escape sixfold, from a daemon or a host tool."""
    a, b = nodes
    a.bridge_prefixes({"blob/"})
    b.bridge_prefixes({"blob/"})
    on_b = b.listen("blob/")
    binary = os.urandom(MAX_BUS_PAYLOAD)
    controls = b"\x01" * MAX_BUS_PAYLOAD  # valid UTF-8: sent as base64, not as 384 KiB of \u0001
    text = b"t" * MAX_BUS_PAYLOAD
    for payload in (binary, controls, text):
        assert a.daemon.publish("blob/a", payload, "application/octet-stream") == 0
    bus.publish(BrokerOptions(broker.url), FLEET, "blob/host", binary, "application/x-blob")
    wait_until(lambda: len(on_b) == 4, 20, "the four messages on daemon B")
    got = [(m.topic, m.content_type, m.payload) for m in on_b]
    assert [m for m in got if m[0] == b"blob/a"] == [  # A's, in order; the host's comes when it does
        (b"blob/a", b"application/octet-stream", binary),
        (b"blob/a", b"application/octet-stream", controls),
        (b"blob/a", b"application/octet-stream", text),
    ]
    assert (b"blob/host", b"application/x-blob", binary) in got
    assert a.bridge.stats["oversized"] == 0 and b.bridge.stats["oversized"] == 0

    envelope = Envelope("host:" + "h" * 64, "blob/a", "x" * 1024, binary).encode()
    assert MAX_MESSAGE < len(envelope) <= MAX_ENVELOPE  # the bus has its own bound
    with pytest.raises(InvalidInput, match="over the"):
        Envelope.decode("blob/a", b" " * (MAX_ENVELOPE + 1))
    with pytest.raises(InvalidInput, match="payload of 65537 bytes"):
        Envelope("a", "blob/a", "x", binary + b"!").encode()
    with pytest.raises(InvalidInput, match="'content_type' of 1-1024"):
        Envelope("a", "blob/a", "x" * 1025, b"1").encode()


def test_host_tools_on_the_bus(nodes: tuple[Node, Node], broker: Mosquitto, ocre_cli) -> None:
    a, b = nodes
    a.bridge_prefixes({"sensor/"})
    b.bridge_prefixes({"sensor/"})
    on_b = b.listen("sensor/")
    r = ocre_cli(
        "publish",
        "sensor/door",
        "open",
        "--content-type",
        "text/x-door",
        "--broker",
        broker.url,
        "--fleet",
        FLEET,
    )
    assert r.code == 0, r.err
    wait_until(lambda: on_b, 10, "the host's message on daemon B")
    assert (on_b[0].topic, on_b[0].content_type, on_b[0].payload) == (b"sensor/door", b"text/x-door", b"open")

    proc = subprocess.Popen(
        [*OCRE, "subscribe", "sensor/", "--broker", broker.url, "--fleet", FLEET, "-n", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:  # until it has subscribed
            a.daemon.publish("sensor/bin", b"\xff\x00", "application/octet-stream")
            time.sleep(0.2)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    message = json.loads(lines[0])
    assert message == {
        "id": 1,
        "topic": "sensor/bin",
        "content_type": "application/octet-stream",
        "from": "a",
        "payload": "/wA=",
        "encoding": "base64",
    }


def test_host_tools_refuse_bad_input_in_one_line(broker: Mosquitto, ocre_cli) -> None:
    url = ["--broker", broker.url]
    cases = [
        (["publish", "a/#", "x", *url], 2, "topic 'a/#'"),
        (["publish", "a", "x", "--content-type", "", *url], 2, "content type"),
        (["publish", "a", "x", "--broker", "http://h"], 2, "mqtt://HOST"),
        (["publish", "a", "x", "--fleet", "f1"], 2, "--fleet needs --broker"),
        (["publish", "a", "x", *url, "--fleet", "Bad/Name"], 2, "--fleet"),
        (
            ["publish", "a", "x", "--broker", f"mqtt://127.0.0.1:{free_port()}"],
            1,
            "cannot reach the fleet broker",
        ),
        (["subscribe", "a/+", *url], 2, "topic 'a/+'"),
    ]
    for argv, code, text in cases:
        r = ocre_cli(*argv)
        assert r.code == code, (argv, r.err)
        assert r.err.count("ocre: error:") == 1 and text in r.err, (argv, r.err)
    r = subprocess.run(
        [*OCRE, "publish", "a", "-", *url], input=b"x" * (MAX_BUS_PAYLOAD + 1), capture_output=True
    )
    assert r.returncode == 2 and b"65537 bytes" in r.stderr


def test_container_to_bus_to_container(tmp_path: Path, broker: Mosquitto, examples: dict[str, Path]) -> None:
    a, b = Node(tmp_path, broker.url, "a"), Node(tmp_path, broker.url, "b")
    try:
        a.bridge_prefixes({"sensor/"})
        b.bridge_prefixes({"sensor/"})
        for node, name in ((a, "publisher"), (b, "subscriber")):
            shutil.copy(examples[name], node.daemon.images_dir / f"{name}.wasm")
        b.daemon.create(
            {"image": "subscriber.wasm", "name": "sub", "args": ["3"], "capabilities": ["ocre:api"]},
            start=True,
        )
        log_b = lambda: b.daemon.logs("sub").read_from(0)[0].decode()  # noqa: E731
        wait_until(lambda: "waiting for sensor/" in log_b(), 20, "the subscriber")
        a.daemon.create(
            {"image": "publisher.wasm", "name": "pub", "args": ["0", "100"], "capabilities": ["ocre:api"]},
            start=True,
        )
        assert b.daemon.wait("sub", 30) == 0
        a.daemon.kill("pub")
        received = [ln for ln in log_b().splitlines() if ln.startswith("received")]
        assert len(received) == 3
        assert all(
            ln.startswith('received sensor/temperature [application/json]: {"seq":') for ln in received
        )
        assert a.bridge.stats["forwarded"] >= 3 and b.bridge.stats["injected"] >= 3
    finally:
        a.close()
        b.close()


# ---- bounds and the pieces ----------------------------------------------------------------------
def test_queues_are_bounded_both_ways(tmp_path: Path) -> None:
    """A broker that does not keep up and a local side that does not keep up: messages are
    dropped and counted, queues never exceed their bound."""
    from ocre_py.daemon import Daemon

    daemon = Daemon(tmp_path / "d")
    release = threading.Event()
    sent: list[str] = []

    def slow_broker(topic: str, payload: bytes, qos: int = 1) -> bool:
        release.wait(10)
        sent.append(topic)
        return True

    bridge = Bridge(FLEET, "d", daemon, slow_broker, lambda f: None, lambda f: None, queue_size=8)
    try:
        bridge.update({"t/"})
        for i in range(200):
            daemon.publish("t/x", str(i).encode(), "text/plain")
        assert bridge.stats["dropped_out"] >= 200 - 8 - 1
        release.set()
        wait_until(lambda: bridge.stats["forwarded"] + bridge.stats["dropped_out"] == 200, 10, "the drain")
        assert len(sent) <= 9

        blocked = threading.Event()
        daemon.subscribe("t/", lambda m: blocked.wait(10))  # a local side that does not keep up
        env = Envelope("other", "t/y", "text/plain", b"hi").encode()
        for _ in range(200):
            assert bridge.handle(bus_topic(FLEET, "t/y"), env)
        assert bridge.stats["dropped_in"] >= 200 - 8 - 1
        blocked.set()
        wait_until(lambda: bridge.stats["injected"] + bridge.stats["dropped_in"] == 200, 10, "the drain")
        assert bridge.handle(bus_topic(FLEET, "t/y"), b"x" * (MAX_ENVELOPE + 1))
        assert bridge.stats["oversized"] == 1
        assert not bridge.handle(f"ocre/v1/{FLEET}/devices/d/state", b"{}")  # not a bus topic
        assert bridge.handle(bus_topic(FLEET, "t/y"), b"not json")
        wait_until(lambda: bridge.stats["invalid"] == 1, 10, "the invalid message counted")
    finally:
        release.set()
        bridge.close()
        daemon.close()


def test_echo_ledger_counts_expires_and_is_bounded() -> None:
    ledger = EchoLedger(capacity=3, ttl=0.2)
    k1, k2 = EchoLedger.key("t", "text/plain", b"1"), EchoLedger.key("t", "text/plain", b"2")
    ledger.add(k1)
    ledger.add(k1)
    assert ledger.consume(k1) and ledger.consume(k1) and not ledger.consume(k1)
    for _ in range(5):
        ledger.add(k2)
    assert len(ledger) == 3  # the oldest entries gave way
    time.sleep(1.1)
    ledger.add(k1)  # purges what expired
    assert len(ledger) == 1 and not ledger.consume(k2)


def test_minimal_prefixes_and_filters() -> None:
    assert minimal_prefixes({"sensor/t", "sensor/", "sens", "alerts/"}) == {"sens", "alerts/"}
    assert minimal_filters({"x/bus/#", "x/bus/sensor/#", "x/bus/alerts/#"}) == {"x/bus/#"}
    assert minimal_filters({"x/bus/a/#", "x/bus/ab/#"}) == {"x/bus/a/#", "x/bus/ab/#"}


def test_broker_down_drops_instead_of_queueing(tmp_path: Path) -> None:
    with Mosquitto(tmp_path / "broker") as broker:
        node = Node(tmp_path, broker.url, "a")
        try:
            node.bridge_prefixes({"t/"})
            broker.stop()
            wait_until(lambda: not node.client.is_connected(), 10, "the disconnection")
            for _ in range(50):
                node.daemon.publish("t/x", b"lost", "text/plain")
            wait_until(lambda: node.bridge.stats["dropped_out"] == 50, 10, "the drops")
            assert node.bridge.stats["forwarded"] == 0
        finally:
            node.close()
