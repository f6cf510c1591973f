"""Simulated fleet members: many lightweight members in one process, speaking the member protocol.

The fleet benchmark (issue 15: 1,000 members converge within 10 s of an apply) and the fleet tests
need many members against one real broker on a small machine. A simulated member is what a member
is on the wire — an MQTT 3.1.1 client with a retained Will, retained presence and state messages,
the deployments subscription, and for batched rollouts the previous batch's state and presence —
and it decides with the same pure :func:`reconcile.decide` as the daemon's agent and firmware. Only
the container is fake: an ``Apply`` reports the generation running at once, or after a fake pull
delay (or failed, for a member made to fail), so what is measured is the protocol and the broker.

Every member's paho client runs on one thread around one selector, through paho's external-loop
API (the socket open/close and register/unregister-write callbacks, ``loop_read``,
``loop_write``, ``loop_misc``): 1,000 paho loop threads would each hold a stack and wake for the
GIL, and a thread per member is not how a member behaves anyway. Other threads talk to the loop
through :meth:`Simulator.call`.
"""

from __future__ import annotations

import collections
import functools
import heapq
import itertools
import logging
import queue
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ocre_py import __version__
from ocre_py.errors import InvalidInput, OcreError
from ocre_py.fleet import protocol
from ocre_py.fleet.broker import KEEPALIVE, RECONNECT_MAX, RECONNECT_MIN, BrokerOptions, make_client
from ocre_py.fleet.reconcile import Apply, Hold, Progress, Remove, decide, watched
from ocre_py.fleet.state import DeviceView, apply_device_message, encode_state, peers_of, state_message

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Members whose TCP/MQTT handshake may be outstanding at once: a broker accepts from a listen
#: backlog of about 100, and connecting faster than it accepts only makes SYNs retry.
CONNECT_WINDOW = 64
#: A simulated member's error text for an ``Apply`` it was made to fail.
SIMULATED_FAILURE = "simulated pull failure"


@dataclass(frozen=True)
class MemberSpec:
    """One simulated device: its ID and labels, and whether every ``Apply`` it makes fails (a
    broken device, to stop a batched rollout)."""

    device: str
    labels: dict[str, str] = field(default_factory=dict)
    fail: bool = False


def raise_nofile(needed: int) -> int:
    """Raise this process's open-file limit to at least ``needed`` (one socket per member), up to
    the hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    limit = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    if limit < needed:
        raise OcreError(
            f"{needed} open files are needed, the hard limit is {hard}",
            hint="raise it (ulimit -Hn, or LimitNOFILE= for a service) or simulate fewer members",
        )
    return limit


def publish_deployment(client: mqtt.Client, fleet: str, deployment: protocol.Deployment | str) -> Any:
    """What ``ocre fleet apply`` does on the wire: the deployment's message, retained, QoS 1 (a
    deployment's name alone deletes it: an empty retained payload). ``client`` is connected and
    looping; the result is paho's ``MQTTMessageInfo`` (``wait_for_publish``)."""
    if isinstance(deployment, str):
        topic, payload = protocol.deployment_topic(fleet, deployment), b""
    else:
        topic = protocol.deployment_topic(fleet, deployment.name)
        payload = protocol.encode(deployment.to_message())
    return client.publish(topic, payload, qos=1, retain=True)


class _Member:
    """One simulated member's protocol state; touched only by the simulator's loop thread."""

    def __init__(self, spec: MemberSpec, client: mqtt.Client) -> None:
        self.spec = spec
        self.client = client
        self.started = time.monotonic()
        self.deployments: dict[str, protocol.Deployment] = {}
        self.current: dict[str, Progress] = {}
        self.containers: dict[str, dict[str, Any]] = {}
        self.peers: dict[str, DeviceView] = {}
        self.watching: set[str] = set()
        self.barrier: int | None = None  # the mid whose UNSUBACK says the peers' retained state is in
        self.connected = False
        self.handshaking = False  # a socket is open and its CONNACK has not come yet
        self.ready_mid: int | None = None
        self.ready = False
        self.dead = False  # killed: never reconnects
        self.backoff = float(RECONNECT_MIN)
        self.write_armed = False  # the selector waits for the socket to be writable


class Simulator:
    """``members`` simulated on one thread against the broker of ``options``, in fleet ``fleet``.

    ``start()`` connects them (at most :data:`CONNECT_WINDOW` handshakes at a time) and returns
    once every member's retained state is on the broker; ``stop()`` disconnects them as a member
    shutting down does (presence false, then DISCONNECT). ``pull_delay`` seconds pass between an
    ``Apply`` reporting ``pulling`` and ``running``; with 0 it reports ``running`` at once.
    """

    def __init__(
        self,
        options: BrokerOptions,
        fleet: str,
        members: Sequence[MemberSpec],
        *,
        pull_delay: float = 0.0,
        connect_window: int = CONNECT_WINDOW,
    ) -> None:
        protocol.check_fleet_name(fleet, "fleet")
        ids = [protocol.check_fleet_name(m.device, "device ID") for m in members]
        if len(set(ids)) != len(ids):
            raise InvalidInput("simulated members need distinct device IDs")
        self.options = options
        self.fleet = fleet
        self.pull_delay = pull_delay
        self.connect_window = max(1, connect_window)
        _, self._host, self._port = options.parts
        self._specs = list(members)
        self._members: dict[str, _Member] = {}
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._to_connect: collections.deque[_Member] = collections.deque()
        self._dirty: set[_Member] = set()  # members with packets queued
        self._connecting = 0
        self._ready = 0
        self._all_ready = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        #: messages received and state messages published, all members together
        self.received = 0
        self.published = 0

    # ---- the public side (any thread) ------------------------------------------------------
    def start(self, timeout: float = 120.0) -> float:
        """Connect every member; seconds until all of them had their retained state acknowledged."""
        raise_nofile(len(self._specs) + 256)
        t0 = time.monotonic()
        for spec in self._specs:
            member = _Member(spec, self._client(spec))
            member.client.user_data_set(member)  # every callback gets its member
            self._members[spec.device] = member
            self._to_connect.append(member)
        if not self._specs:
            self._all_ready.set()
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="ocre-fleet-sim", daemon=True)
        self._thread.start()
        if not self._all_ready.wait(timeout):
            ready = self._ready
            self.stop()
            raise OcreError(
                f"{ready} of {len(self._specs)} simulated members connected within {timeout:g} s",
                hint="is the broker up, and its connection limit (max_connections, ulimit -n) high enough?",
            )
        if self._error is not None:
            raise OcreError(f"the simulator's loop failed: {self._error}")
        return time.monotonic() - t0

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``fn`` on the loop thread (the only one that touches clients and member state)."""
        if threading.current_thread() is self._thread:
            return fn()
        future: Future[T] = Future()
        self._calls.put((fn, future))
        self._wake()
        return future.result(timeout)

    def progress(self, device: str) -> dict[str, Progress]:
        """The deployments one member reports, by name."""
        return self.call(lambda: dict(self._members[device].current))

    def kill(self, device: str) -> None:
        """Drop one member's connection without a DISCONNECT, as a crash or a pulled cable does:
        the broker publishes its Will (presence false). It does not reconnect."""

        def kill() -> None:
            member = self._members[device]
            member.dead = True
            sock = member.client.socket()
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)  # the loop reads EOF and paho closes the socket

        self.call(kill)

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect every member cleanly and end the loop."""
        if self._thread is None:
            return
        if self._thread.is_alive():
            try:
                self.call(self._close_all, timeout)
            except Exception:  # the loop is already gone or stuck: nothing more to close politely
                log.debug("simulator stop", exc_info=True)
            self._thread.join(timeout)
        self._thread = None
        for key in list(self._sel.get_map().values()):
            if key.data is not None:
                key.fileobj.close()  # type: ignore[union-attr]
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the loop thread -------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except BlockingIOError:  # already awake
            pass

    def _client(self, spec: MemberSpec) -> mqtt.Client:
        will = (protocol.presence_topic(self.fleet, spec.device), protocol.presence(False))
        client = make_client(self.options, f"ocre-sim-{self.fleet}-{spec.device}", will=will)
        client.suppress_exceptions = True  # a bug in one member's handler must not stop the loop
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))  # so such a bug is logged
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_unsubscribe = self._on_unsubscribe
        return client

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # surface in start()/call() rather than die silently
            log.exception("simulator loop failed")
            self._error = exc
            self._all_ready.set()

    def _loop(self) -> None:
        next_misc = time.monotonic() + 1
        while True:
            self._connect_some()
            self._flush()
            if self._closing and len(self._sel.get_map()) <= 1:
                return  # every socket closed (the wake-up pair remains)
            now = time.monotonic()
            wait = min(next_misc, self._timers[0][0] if self._timers else next_misc) - now
            for key, events in self._sel.select(max(0.0, min(wait, 1.0))):
                if key.data is None:
                    try:
                        self._wake_r.recv(4096)
                    except BlockingIOError:
                        pass
                    continue
                client = key.data.client
                if events & selectors.EVENT_READ:
                    client.loop_read()
                if events & selectors.EVENT_WRITE and client.socket() is key.fileobj:
                    client.loop_write()
            while True:
                try:
                    fn, future = self._calls.get_nowait()
                except queue.Empty:
                    break
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except Exception as exc:
                        future.set_exception(exc)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                heapq.heappop(self._timers)[2]()
            if now >= next_misc:  # keep-alive pings, and paho's ping timeout
                next_misc = now + 1
                for member in self._members.values():
                    if member.client.socket() is not None:
                        member.client.loop_misc()

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), fn))

    def _connect_some(self) -> None:
        """Start connections, first ones and reconnections alike, at most ``connect_window``
        handshakes at a time: after a broker restart every member comes back at once."""
        while self._to_connect and self._connecting < self.connect_window and not self._closing:
            member = self._to_connect.popleft()
            if member.dead or member.client.socket() is not None:
                continue
            self._handshake(member, True)
            try:
                member.client.connect(self._host, self._port, keepalive=KEEPALIVE)
            except OSError as exc:
                self._handshake(member, False)
                log.debug("%s: connect: %s", member.spec.device, exc)
                self._retry(member)

    def _retry(self, member: _Member) -> None:
        self._later(self._next_backoff(member), functools.partial(self._to_connect.append, member))

    def _handshake(self, member: _Member, on: bool) -> None:
        if member.handshaking != on:
            member.handshaking = on
            self._connecting += 1 if on else -1

    def _next_backoff(self, member: _Member) -> float:
        delay = member.backoff
        member.backoff = min(member.backoff * 2, RECONNECT_MAX)
        return delay

    def _close_all(self) -> None:
        self._closing = True
        self._to_connect.clear()
        for member in self._members.values():
            if member.client.socket() is None:
                continue
            if member.connected:
                topic = protocol.presence_topic(self.fleet, member.spec.device)
                member.client.publish(topic, protocol.presence(False), qos=1, retain=True)
            member.client.disconnect()
        self._later(5.0, self._drop_all)

    def _drop_all(self) -> None:
        """The members a stop could not disconnect politely (a broker that stopped answering):
        close their sockets, so the loop ends."""
        for key in list(self._sel.get_map().values()):
            if key.data is not None:
                self._sel.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]

    # paho's external-loop callbacks: keep the selector's interest in step with each socket
    def _on_socket_open(self, client: mqtt.Client, member: _Member, sock: Any) -> None:
        member.write_armed = False
        self._sel.register(sock, selectors.EVENT_READ, member)

    def _on_socket_close(self, client: mqtt.Client, member: _Member, sock: Any) -> None:
        try:
            self._sel.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _on_register_write(self, client: mqtt.Client, member: _Member, sock: Any) -> None:
        self._dirty.add(member)  # written by _flush; the selector only if the socket is full

    def _on_unregister_write(self, client: mqtt.Client, member: _Member, sock: Any) -> None:
        if member.write_armed:
            member.write_armed = False
            try:
                self._sel.modify(sock, selectors.EVENT_READ, member)
            except (KeyError, ValueError):  # called while the socket closes
                pass

    def _flush(self) -> None:
        """Write what the members queued (paho queues inside its callbacks) straight away, and
        ask the selector for writability only when a socket's buffer is full: two epoll_ctl calls
        and a wake-up per message saved, the bulk of the loop's own cost with 1,000 members."""
        while self._dirty:
            member = self._dirty.pop()
            sock = member.client.socket()
            if sock is None:
                continue
            member.client.loop_write()
            if member.client.want_write() and not member.write_armed and member.client.socket() is sock:
                member.write_armed = True
                self._sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, member)

    # ---- the member protocol ---------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, member: _Member, flags: Any, rc: Any, props: Any) -> None:
        self._handshake(member, False)
        if rc.is_failure:
            log.warning("%s: broker refused the connection: %s", member.spec.device, rc)
            return
        member.connected = True
        member.backoff = float(RECONNECT_MIN)
        fleet, device = self.fleet, member.spec.device
        client.publish(protocol.presence_topic(fleet, device), protocol.presence(True), qos=1, retain=True)
        member.ready_mid = self._publish_state(member)
        client.subscribe(protocol.deployments_filter(fleet), qos=1)
        member.watching = set()  # a clean session: the peers' subscriptions are gone
        self._watch(member)

    def _on_disconnect(self, client: mqtt.Client, member: _Member, flags: Any, rc: Any, props: Any) -> None:
        self._handshake(member, False)
        member.connected = False
        if not (member.dead or self._closing):
            log.debug("%s: disconnected (%s); reconnecting", member.spec.device, rc)
            self._retry(member)

    def _on_publish(self, client: mqtt.Client, member: _Member, mid: int, rc: Any, props: Any) -> None:
        if mid == member.ready_mid and not member.ready:
            member.ready = True
            self._ready += 1
            if self._ready == len(self._specs):
                self._all_ready.set()

    def _on_unsubscribe(self, client: mqtt.Client, member: _Member, mid: int, rc: Any, props: Any) -> None:
        if mid == member.barrier:
            member.barrier = None
            self._reconcile(member)

    def _on_message(self, client: mqtt.Client, member: _Member, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        parsed = protocol.parse_topic(self.fleet, msg.topic)
        if parsed is None:
            return
        kind, name, leaf = parsed
        try:
            if kind == "deployments":
                if not msg.payload:
                    member.deployments.pop(name, None)
                else:
                    d = protocol.Deployment.from_message(name, bytes(msg.payload))
                    protocol.keep(member.deployments, name, d, protocol.MAX_DEPLOYMENTS, "deployment")
                self._watch(member)
            elif kind == "devices" and name in member.watching:
                apply_device_message(member.peers, name, leaf, bytes(msg.payload))
            else:
                return
        except InvalidInput as exc:  # as a member does: skip a bad message, keep the rest
            log.warning("%s: %s", member.spec.device, exc)
            return
        self._reconcile(member)

    def _watch(self, member: _Member) -> None:
        """Follow the state and presence of the devices whose batch comes before this member's in
        any batched rollout that selects it; nothing else (1,000 members each following every
        device would be a million deliveries per change)."""
        need = watched(member.spec.device, member.spec.labels, member.deployments)
        fleet, client = self.fleet, member.client
        gone, new = member.watching - need, need - member.watching
        if gone:
            client.unsubscribe([t for p in sorted(gone) for t in protocol.device_topics(fleet, p)])
            for peer in gone:
                member.peers.pop(peer, None)
        if new:
            client.subscribe([(t, 0) for p in sorted(new) for t in protocol.device_topics(fleet, p)])
            # The broker answers packets in order and queues the retained messages of a SUBSCRIBE
            # before it reads the next packet: when this UNSUBACK arrives, the peers' retained
            # state has too. Deciding before it would see the batch as offline and stop the rollout.
            _, member.barrier = client.unsubscribe(f"{protocol.base(fleet)}/sync/{member.spec.device}")
        member.watching = need

    def _reconcile(self, member: _Member) -> None:
        if member.barrier is not None:
            return  # waiting for the peers' retained state
        spec = member.spec
        changed = False
        peers = peers_of(member.peers, member.watching)
        for action in decide(spec.device, spec.labels, member.deployments, member.current, peers):
            if isinstance(action, Apply):
                self._apply(member, action.deployment)
                changed = True
            elif isinstance(action, Remove):
                member.current.pop(action.name, None)
                member.containers.pop(action.name, None)
                changed = True
            elif isinstance(action, Hold):
                name = action.deployment.name
                if member.current.get(name) != action.progress:
                    member.current[name] = action.progress
                    changed = True
        if changed:
            self._publish_state(member)

    def _apply(self, member: _Member, d: protocol.Deployment) -> None:
        if self.pull_delay > 0:
            member.current[d.name] = Progress(d.generation, "pulling", d.digest)
            self._later(self.pull_delay, lambda: self._pulled(member, d))
        else:
            self._run_container(member, d)

    def _pulled(self, member: _Member, d: protocol.Deployment) -> None:
        have = member.current.get(d.name)
        if have is None or have.generation != d.generation or have.state != "pulling":
            return  # replaced or removed while it pulled
        self._run_container(member, d)
        self._publish_state(member)

    def _run_container(self, member: _Member, d: protocol.Deployment) -> None:
        if member.spec.fail:
            member.current[d.name] = Progress(d.generation, "failed", d.digest, SIMULATED_FAILURE)
            member.containers.pop(d.name, None)
            return
        member.current[d.name] = Progress(d.generation, "running", d.digest)
        member.containers[d.name] = {
            "id": d.name,
            "image": d.pull_ref,
            "status": "running",
            "digest": d.digest,
            "deployment": d.name,
        }

    def _state_message(self, member: _Member) -> dict[str, Any]:
        """The member's retained state message, built as the daemon's agent builds it."""
        return state_message(
            member.spec.device,
            member.spec.labels,
            version=__version__,
            health={
                "status": "ok",
                "uptime_s": round(time.monotonic() - member.started, 1),
                "restarting": 0,
            },
            resources={"rss_bytes": 0, "cpus": 1, "disk_free_bytes": 0, "containers": len(member.containers)},
            deployments={name: (p, name) for name, p in member.current.items()},
            containers=list(member.containers.values()),
        )

    def _publish_state(self, member: _Member) -> int:
        self.published += 1
        topic = protocol.state_topic(self.fleet, member.spec.device)
        info = member.client.publish(topic, encode_state(self._state_message(member)), qos=1, retain=True)
        return int(info.mid)
