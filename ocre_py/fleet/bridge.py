"""Bridging container messages between one daemon's local messaging and the fleet bus.

A deployment's ``bridge`` lists topic prefixes; the member running it creates one :class:`Bridge`
and calls :meth:`Bridge.update` with the union of those prefixes. From then on:

* a message published locally (by a container or ``ocre publish``) under a bridged prefix goes to
  the broker as an :class:`~ocre_py.fleet.protocol.Envelope` on ``ocre/v1/<fleet>/bus/<topic>``,
  QoS 1, with this device as its origin;
* a bus message whose topic starts with a bridged prefix, from another origin, is published
  locally with its content type and payload unchanged, so containers on every member see one
  message space (spec 2.5's semantics: a subscription is a string prefix).

Loops. MQTT 3.1.1 has no "no local" flag, so the broker sends a member its own bus messages back:
those are recognised by their envelope's origin and dropped. The other loop is local: the bridge
subscribes locally to the prefixes it bridges, so a message it *injects* from the bus comes straight
back to its own local subscription. Before injecting, the bridge records the message's key (topic,
content type, payload hash) in a bounded ledger; the local echo consumes the key and is not sent
out. The ledger counts keys (two identical messages injected are two entries), expires them (a
local bus that delivers late still matches; an echo that never comes is forgotten), and holds at
most :data:`MAX_ECHOES`. Should an entry be lost (evicted, expired), the echo goes to the bus once
with this device as origin; every other member injects it and drops *its* echo, so the worst case
is one duplicate, never a cycle. A container publishing a byte-identical message while its twin
is being injected may be taken for the echo; the bus then carries one of the two identical
messages in its place, which no receiver can tell apart.

Bounds. Paho's network thread only queues (:meth:`Bridge.handle`); a worker thread decodes and
publishes locally. Containers' threads only queue too; a second worker sends to the broker through
:class:`PahoPublisher`, which keeps at most a window of unacknowledged messages in paho. Both
queues hold :data:`QUEUE_SIZE` messages: envelopes of at most
:data:`~ocre_py.fleet.protocol.MAX_ENVELOPE` bytes in, payloads of at most
:data:`~ocre_py.fleet.protocol.MAX_BUS_PAYLOAD` out (a 64 KiB binary payload crosses); when full,
messages are dropped and counted (:attr:`Bridge.stats`), never buffered without limit. Bus
messages are live data: what is published while the member is offline is dropped.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ocre_py.errors import InvalidInput, OcreError
from ocre_py.fleet.protocol import (
    MAX_BUS_PAYLOAD,
    MAX_ENVELOPE,
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

QUEUE_SIZE = 128  # messages per direction between threads: at most 13 MiB in, 8 MiB out
MAX_ECHOES = 1024  # injected messages whose local echo is still expected
ECHO_TTL = 30.0  # seconds an expected echo is remembered
WINDOW = 64  # unacknowledged QoS 1 messages the bridge keeps in paho at once
PUBLISH_TIMEOUT = 5.0  # seconds to wait for the window to open before dropping a message


class LocalMessage(Protocol):
    """What a local subscription delivers (``runtime.events.Message`` has these fields)."""

    @property
    def topic(self) -> bytes: ...
    @property
    def content_type(self) -> bytes: ...
    @property
    def payload(self) -> bytes: ...


class LocalBus(Protocol):
    """A daemon's local messaging (``daemon.service.Daemon`` satisfies it)."""

    def publish(self, topic: str, payload: bytes, content_type: str) -> int: ...
    def subscribe(self, prefix: str, callback: Callable[[LocalMessage], None]) -> int: ...
    def unsubscribe(self, handle: int) -> None: ...


class PublishMqtt(Protocol):
    """Send one message to the broker; False when it was dropped. Called from one worker thread;
    it may block (briefly) to keep what paho holds bounded."""

    def __call__(self, topic: str, payload: bytes, qos: int = 1) -> object: ...


def minimal_prefixes(prefixes: Iterable[str]) -> frozenset[str]:
    """Drop prefixes another one covers (``sensor/t`` under ``sens``): every topic then matches at
    most one local subscription, so one local message is sent to the bus once."""
    ordered = sorted(set(prefixes))
    out: list[str] = []
    for p in ordered:  # sorted: a covering prefix comes before everything it covers
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return frozenset(out)


def minimal_filters(filters: Iterable[str]) -> frozenset[str]:
    """The same for ``…/#`` filters: overlapping subscriptions make a broker deliver twice."""
    return frozenset(f + "#" for f in minimal_prefixes(f.removesuffix("#") for f in filters))


class EchoLedger:
    """A bounded, expiring multiset of message keys: injected messages whose echo is expected."""

    def __init__(self, capacity: int = MAX_ECHOES, ttl: float = ECHO_TTL) -> None:
        self.capacity, self.ttl = capacity, ttl
        self._keys: OrderedDict[tuple[str, str, bytes], deque[float]] = OrderedDict()
        self._size = 0
        self._purged = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def key(topic: str, content_type: str, payload: bytes) -> tuple[str, str, bytes]:
        return topic, content_type, hashlib.blake2b(payload, digest_size=16).digest()

    def __len__(self) -> int:
        return self._size

    def add(self, key: tuple[str, str, bytes]) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._purged >= 1.0:
                self._purge(now)
            if self._size >= self.capacity:  # the oldest key gives up its oldest entry
                self._pop(next(iter(self._keys)))
            self._keys.setdefault(key, deque()).append(now + self.ttl)
            self._size += 1

    def consume(self, key: tuple[str, str, bytes]) -> bool:
        """True (and one entry fewer) when ``key`` was expected."""
        with self._lock:
            if key not in self._keys:
                return False
            self._pop(key)
            return True

    def _pop(self, key: tuple[str, str, bytes]) -> None:
        entries = self._keys[key]
        entries.popleft()
        self._size -= 1
        if not entries:
            del self._keys[key]

    def _purge(self, now: float) -> None:
        self._purged = now
        for key in list(self._keys):
            entries = self._keys[key]
            while entries and entries[0] <= now:
                entries.popleft()
                self._size -= 1
            if not entries:
                del self._keys[key]


class PahoPublisher:
    """paho's ``publish`` with a window: at most ``window`` unacknowledged bridge messages sit in
    paho's queue (which has no bound of its own), and nothing is queued while disconnected."""

    def __init__(self, client: mqtt.Client, window: int = WINDOW, timeout: float = PUBLISH_TIMEOUT) -> None:
        self.client, self.window, self.timeout = client, window, timeout
        self._pending: deque[mqtt.MQTTMessageInfo] = deque()

    @staticmethod
    def _settled(info: mqtt.MQTTMessageInfo) -> bool:
        try:
            return info.is_published()
        except (ValueError, RuntimeError):  # never queued, or failed: it holds no place in paho
            return True

    def __call__(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        if not self.client.is_connected():
            return False
        while self._pending and self._settled(self._pending[0]):
            self._pending.popleft()
        if len(self._pending) >= self.window:
            try:
                self._pending[0].wait_for_publish(self.timeout)
            except (ValueError, RuntimeError):
                pass
            if not self._settled(self._pending[0]):
                return False  # the broker does not keep up: drop rather than grow paho's queue
            self._pending.popleft()
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != 0:
            return False
        self._pending.append(info)
        return True


class Bridge:
    """One member's bridge between local messaging and ``ocre/v1/<fleet>/bus/``; see the module
    docstring for the loop prevention and the bounds. Thread-safe; call :meth:`close` when done."""

    def __init__(
        self,
        fleet: str,
        device: str,
        local: LocalBus,
        publish_mqtt: PublishMqtt,
        subscribe_mqtt: Callable[[str], object],
        unsubscribe_mqtt: Callable[[str], object],
        *,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.fleet = check_fleet_name(fleet, "fleet")
        self.device = check_fleet_name(device, "device ID")
        self.local = local
        self.publish_mqtt, self.subscribe_mqtt, self.unsubscribe_mqtt = (
            publish_mqtt,
            subscribe_mqtt,
            unsubscribe_mqtt,
        )
        self.echoes = EchoLedger()
        #: What happened to messages, by outcome (see :meth:`_count`'s callers).
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "forwarded",  # local → bus
                "injected",  # bus → local
                "echoes",  # local echoes of injected messages, not sent back
                "own",  # bus messages of our own origin, from the broker
                "unselected",  # bus messages under no bridged prefix (a coarser MQTT filter)
                "not_bridgeable",  # local topics MQTT cannot carry
                "oversized",
                "invalid",  # bus messages that are not envelopes
                "undelivered",  # injected, but the local publish failed
                "dropped_in",  # queue full (bus → local)
                "dropped_out",  # queue full, or the broker unreachable or slow (local → bus)
            ),
            0,
        )
        self._stats_lock = threading.Lock()
        self._logged: set[str] = set()
        self._lock = threading.Lock()  # prefixes, filters, closing
        self._handles: dict[str, int] = {}
        self._active: frozenset[str] = frozenset()
        self._filters: frozenset[str] = frozenset()
        self._closed = False
        self._inbound: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=queue_size)
        self._outbound: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue(maxsize=queue_size)
        self._threads = [
            threading.Thread(target=self._inject_loop, name="ocre-bridge-in", daemon=True),
            threading.Thread(target=self._forward_loop, name="ocre-bridge-out", daemon=True),
        ]
        for t in self._threads:
            t.start()

    @classmethod
    def for_client(cls, fleet: str, device: str, local: LocalBus, client: mqtt.Client) -> Bridge:
        """A bridge over the member's paho client. The member keeps owning the client's callbacks
        and calls the bridge from them::

            bridge = Bridge.for_client(fleet, device, daemon, client)
            # on_message:  if not bridge.handle(msg.topic, msg.payload): <the member's own topics>
            # on_connect:  bridge.resubscribe()   (a clean session forgets subscriptions)
            # deployments changed:  bridge.update(set().union(*(d.bridge for d in running)))
            # shutdown:    bridge.close(), then disconnect the client
        """
        return cls(
            fleet,
            device,
            local,
            PahoPublisher(client),
            lambda f: client.subscribe(f, qos=1),
            lambda f: client.unsubscribe(f),
        )

    # ---- configuration ------------------------------------------------------------------------
    @property
    def prefixes(self) -> frozenset[str]:
        return self._active

    @property
    def filters(self) -> frozenset[str]:
        return self._filters

    def update(self, prefixes: Iterable[str]) -> None:
        """Bridge exactly these prefixes (the union of the running deployments' ``bridge``)."""
        wanted_all = set(prefixes)
        for p in wanted_all:
            if not bridgeable(p):
                self._once(f"prefix:{p}", "not bridging prefix %r: MQTT cannot carry it", p)
        wanted = minimal_prefixes(p for p in wanted_all if bridgeable(p))
        filters = minimal_filters(bus_filter(self.fleet, p) for p in wanted)
        with self._lock:
            if self._closed:
                return
            for p in set(self._handles) - wanted:
                self.local.unsubscribe(self._handles.pop(p))
            for p in wanted - set(self._handles):
                self._handles[p] = self.local.subscribe(p, self._on_local)
            self._active = wanted
            for f in self._filters - filters:
                self.unsubscribe_mqtt(f)
            for f in filters - self._filters:
                self.subscribe_mqtt(f)
            self._filters = filters
        log.debug("bridging %s (MQTT %s)", sorted(wanted), sorted(filters))

    def resubscribe(self) -> None:
        """Subscribe the MQTT filters again: call from the client's ``on_connect``."""
        with self._lock:
            for f in self._filters:
                self.subscribe_mqtt(f)

    def close(self) -> None:
        """Unsubscribe everywhere and stop the workers (messages still queued are dropped)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for handle in self._handles.values():
                self.local.unsubscribe(handle)
            self._handles.clear()
            self._active = frozenset()
            for f in self._filters:
                try:
                    self.unsubscribe_mqtt(f)
                except Exception:  # the client may be gone already
                    log.debug("unsubscribing %s failed", f, exc_info=True)
            self._filters = frozenset()
        for q in (self._inbound, self._outbound):
            _stop(q)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(5)

    # ---- bus → local --------------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes | bytearray) -> bool:
        """Take a message the member received; False when ``topic`` is not a bus topic of this
        fleet. Never blocks (paho's network thread calls it): the message is only queued."""
        parsed = parse_topic(self.fleet, topic)
        if parsed is None or parsed[0] != "bus":
            return False
        if self._closed:
            return True
        if len(payload) > MAX_ENVELOPE:  # refused before anything parses it
            self._count("oversized")
            return True
        try:
            self._inbound.put_nowait((parsed[2], bytes(payload)))
        except queue.Full:
            self._count("dropped_in")
            self._once("dropped_in", "bridge: local side does not keep up; dropping bus messages")
        return True

    def _inject_loop(self) -> None:
        while (item := self._inbound.get()) is not None:
            try:
                self._inject(*item)
            except Exception:  # a worker that dies would silently stop the bridge
                log.exception("bridge: injecting a bus message failed")

    def _inject(self, topic: str, payload: bytes) -> None:
        try:
            envelope = Envelope.decode(topic, payload)
        except InvalidInput as exc:
            self._count("invalid")
            self._once("invalid", "bridge: ignoring an invalid bus message: %s", exc)
            return
        if envelope.origin == self.device:
            self._count("own")
            return
        if not any(topic.startswith(p) for p in self._active):
            self._count("unselected")
            return
        key = EchoLedger.key(topic, envelope.content_type, envelope.payload)
        self.echoes.add(key)
        try:
            rc = self.local.publish(topic, envelope.payload, envelope.content_type)
        except OcreError as exc:
            self.echoes.consume(key)
            self._count("invalid")
            self._once("invalid", "bridge: ignoring an invalid bus message: %s", exc)
            return
        if rc != 0:  # nothing was delivered, so no echo will come either
            self.echoes.consume(key)
            self._count("undelivered")
        else:
            self._count("injected")

    # ---- local → bus --------------------------------------------------------------------------
    def _on_local(self, message: LocalMessage) -> None:
        """Called on the publisher's thread (a container's): checks and queues, never blocks."""
        try:
            topic, ctype = message.topic.decode(), message.content_type.decode()
        except UnicodeDecodeError:
            self._count("not_bridgeable")
            self._once("utf8", "bridge: a local topic or content type is not UTF-8; not bridged")
            return
        payload = message.payload
        if len(self.echoes) and self.echoes.consume(EchoLedger.key(topic, ctype, payload)):
            self._count("echoes")
            return
        if not bridgeable(topic):
            self._count("not_bridgeable")
            self._once("not_bridgeable", "bridge: topic %r cannot go to MQTT; not bridged", topic)
            return
        if len(payload) > MAX_BUS_PAYLOAD:
            self._count("oversized")
            return
        try:
            self._outbound.put_nowait((topic, ctype, payload))
        except queue.Full:
            self._count("dropped_out")
            self._once("dropped_out", "bridge: the broker does not keep up; dropping local messages")

    def _forward_loop(self) -> None:
        while (item := self._outbound.get()) is not None:
            topic, ctype, payload = item
            try:
                data = Envelope(self.device, topic, ctype, payload).encode()
            except InvalidInput as exc:  # a content type longer than the protocol carries
                self._count("oversized")
                self._once("envelope", "bridge: message on %r not bridged: %s", topic, exc)
                continue
            try:
                sent = self.publish_mqtt(bus_topic(self.fleet, topic), data, qos=1)
            except Exception:
                log.exception("bridge: publishing to the broker failed")
                sent = False
            self._count("dropped_out" if sent is False else "forwarded")

    # ---- bookkeeping --------------------------------------------------------------------------
    def _count(self, what: str) -> None:
        with self._stats_lock:
            self.stats[what] += 1

    def _once(self, what: str, message: str, *args: Any) -> None:
        """Log the first of a kind of problem; the rest are only counted (a flood must not flood
        the log)."""
        if what in self._logged or len(self._logged) >= 64:
            return
        self._logged.add(what)
        log.warning(message, *args)


def _stop(q: queue.Queue[Any]) -> None:
    """Replace what a queue holds with the stop marker (never blocks on a full queue)."""
    while True:
        try:
            while True:
                q.get_nowait()
        except queue.Empty:
            pass
        try:
            q.put_nowait(None)
            return
        except queue.Full:
            continue
