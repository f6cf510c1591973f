"""Host tools on the fleet bus: ``ocre publish --broker`` and ``ocre subscribe --broker``.

A host tool is one more origin on the bus (``host:<hostname>``): what it publishes reaches every
member bridging the topic, as a container's message would, and it sees what the members bridge.
Payloads and content types follow local messaging (spec 2.5): 1 to 64 KiB of bytes, a non-empty
MIME type, and a subscription matches every topic it is a string prefix of.
"""

from __future__ import annotations

import itertools
import logging
import queue
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ocre_py.daemon.wire import payload_fields
from ocre_py.errors import InvalidInput
from ocre_py.fleet.broker import BrokerOptions, client_id, connect, make_client, publish_acked
from ocre_py.fleet.protocol import (
    MAX_BUS_PAYLOAD,
    MAX_ENVELOPE,
    MAX_TEXT,
    Envelope,
    bridgeable,
    bus_filter,
    bus_topic,
    check_fleet_name,
    parse_topic,
)

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 10.0  # seconds for the broker's PUBACK
INBOX = 256  # received messages waiting for the reader: at most 26 MiB of envelopes


def host_origin() -> str:
    """The ``from`` of a host tool's bus messages; never a device ID (those have no ':')."""
    return f"host:{socket.gethostname()[:64] or 'localhost'}"


def check_message(topic: str, payload: bytes, content_type: str) -> None:
    """Local messaging's rules, plus what MQTT cannot carry: one line naming the problem."""
    if not bridgeable(topic):
        raise InvalidInput.field(
            None, "topic", topic, f"a topic of 1-{MAX_TEXT} bytes without '+', '#' or NUL"
        )
    if not content_type:
        raise InvalidInput.field(None, "content type", content_type, "a non-empty MIME type")
    if not payload or len(payload) > MAX_BUS_PAYLOAD:
        raise InvalidInput.field(None, "payload", f"{len(payload)} bytes", f"1-{MAX_BUS_PAYLOAD} bytes")


def publish(
    options: BrokerOptions,
    fleet: str,
    topic: str,
    payload: bytes,
    content_type: str = "text/plain",
    *,
    origin: str | None = None,
    timeout: float = PUBLISH_TIMEOUT,
) -> dict[str, Any]:
    """Publish one message on the bus and wait for the broker's acknowledgement (QoS 1). Whether
    any member bridges the topic is not known to the publisher (unlike a local publish)."""
    check_fleet_name(fleet, "--fleet")
    check_message(topic, payload, content_type)
    data = Envelope(origin or host_origin(), topic, content_type, payload).encode()
    client = make_client(options, client_id("publish"))
    connect(options, client, timeout=timeout)
    try:
        publish_acked(options, client, bus_topic(fleet, topic), data, timeout=timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return {"topic": topic, "bus_topic": bus_topic(fleet, topic), "from": origin or host_origin()}


def message_dict(envelope: Envelope, seq: int) -> dict[str, Any]:
    """The local subscription's format (``daemon.api.encode_message``), plus the origin."""
    return {
        "id": seq,
        "topic": envelope.topic,
        "content_type": envelope.content_type,
        "from": envelope.origin,
        **payload_fields(envelope.payload),
    }


def subscribe(
    options: BrokerOptions, fleet: str, prefix: str, *, count: int | None = None
) -> Iterator[dict[str, Any]]:
    """Bus messages whose topic starts with ``prefix``, as dicts; the first item is ``{}`` once
    the broker confirmed the subscription. Stops after ``count`` messages (None: never).

    Messages wait in a queue of :data:`INBOX`; a reader that falls behind loses the newest ones
    (counted in the log) rather than growing memory.
    """
    check_fleet_name(fleet, "--fleet")
    if prefix and not bridgeable(prefix):
        raise InvalidInput.field(None, "topic", prefix, "a topic prefix without '+', '#' or NUL")
    inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=INBOX)
    mqtt_filter = bus_filter(fleet, prefix)
    dropped = itertools.count(1)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        parsed = parse_topic(fleet, msg.topic)
        if parsed is None or parsed[0] != "bus" or not parsed[2].startswith(prefix):
            return
        if len(msg.payload) > MAX_ENVELOPE:
            log.warning("ignoring a bus message of %d bytes on %s", len(msg.payload), parsed[2])
            return
        try:
            inbox.put_nowait((parsed[2], bytes(msg.payload)))
        except queue.Full:
            n = next(dropped)
            if n & (n - 1) == 0:  # 1, 2, 4, 8, …: the log stays short under a flood
                log.warning("subscriber falls behind: %d bus messages dropped", n)

    def on_subscribe(*_args: object) -> None:
        try:
            inbox.put_nowait(None)  # the subscription is in place
        except queue.Full:
            pass

    client = make_client(options, client_id("subscribe"))
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    connect(options, client, on_connect=lambda c: c.subscribe(mqtt_filter, qos=1))
    try:
        sent, marked, seq = 0, False, itertools.count(1)
        while count is None or sent < count:
            item = inbox.get()
            if item is None:
                if not marked:
                    marked = True
                    yield {}
                continue
            try:
                envelope = Envelope.decode(*item)
            except InvalidInput as exc:
                log.warning("ignoring an invalid bus message: %s", exc)
                continue
            sent += 1
            yield message_dict(envelope, next(seq))
    finally:
        client.disconnect()
        client.loop_stop()
