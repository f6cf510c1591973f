"""The member agent: a daemon joins a fleet, reports its state and runs what the fleet deploys.

``ocre daemon --fleet mqtt://HOST --device-id ID --label role=sensor`` starts one :class:`Member`
beside the daemon's listeners. Everything it knows comes from retained messages, so it needs no
coordinator and no local fleet database:

* On connect it publishes a retained ``{"online": true}`` presence (its Will, set before
  connecting, is a retained ``{"online": false}`` the broker publishes when the connection dies),
  subscribes to the deployments, and publishes its state. paho reconnects with backoff; after a
  broker restart the retained deployments come back from the broker's persistence.
* The retained deployments arrive in a burst after the subscription; the member waits for it to
  end before reconciling, or a restart would remove containers whose deployment had not arrived
  yet. The end is the member's own presence message, subscribed after the deployments: a broker
  sends a subscription's retained messages before those of a later one (a bounded wait stands in
  for brokers that do not).
* MQTT callbacks only record messages and wake one worker thread; the worker runs the pure
  :func:`~ocre_py.fleet.reconcile.decide` and acts through :class:`DaemonHost`, so a slow pull
  never blocks keep-alives. It also polls the daemon (``poll`` seconds) and republishes the state
  when something changed.
* For a batched rollout it subscribes to the presence and state of the devices of the batch
  before its own, and decides again when they change.
* It bridges the topic prefixes (``bridge:``) of the deployments it runs between the daemon's
  local messaging and the fleet bus, through one :class:`~ocre_py.fleet.bridge.Bridge` over its
  own MQTT client: what each of its containers was deployed with (a generation held or refused
  before its container started bridges nothing; the older container still running keeps its
  prefixes). The member subscribes to its own topics only (never the whole fleet), so each bus
  message arrives once, through the bridge's filters.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ocre_py.errors import InvalidInput, OcreError
from ocre_py.fleet import broker, protocol
from ocre_py.fleet.bridge import Bridge
from ocre_py.fleet.broker import DEFAULT_FLEET, KEEPALIVE
from ocre_py.fleet.daemon_host import DaemonHost
from ocre_py.fleet.protocol import Deployment
from ocre_py.fleet.reconcile import Apply, Hold, Progress, Remove, decide, watched
from ocre_py.fleet.state import (
    DeviceView,
    apply_device_message,
    encode_state,
    peers_of,
    stable,
    state_message,
)

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from ocre_py.daemon import Daemon

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemberConfig:
    """Who the member is and where its fleet lives; checked before the daemon starts."""

    broker: broker.BrokerOptions
    device: str
    labels: dict[str, str] = field(default_factory=dict)
    fleet: str = DEFAULT_FLEET
    keepalive: int = KEEPALIVE
    poll: float = 1.0  # seconds between looks at the daemon's containers
    refresh: float = 60.0  # the state is republished at least this often (resources, last seen)
    sync_timeout: float = 5.0  # longest wait for the retained burst on a broker that does not order it

    @classmethod
    def from_options(
        cls, url: str, device: str | None, labels: list[str], fleet: str | None = None, **tls: str | None
    ) -> MemberConfig:
        """From ``ocre daemon --fleet … --device-id … --label K=V …`` (the fleet: ``--fleet-name``,
        else ``$OCRE_FLEET_NAME``, else ``default``); one line per problem."""
        if not device:
            raise InvalidInput("--fleet needs --device-id ID (this daemon's name in the fleet)")
        protocol.check_fleet_name(device, "--device-id")
        fleet = broker.fleet_name(fleet, "--fleet-name")
        pairs: dict[str, str] = {}
        for item in labels:
            key, sep, value = item.partition("=")
            if not sep:
                raise InvalidInput.field(None, "--label", item, "KEY=VALUE")
            pairs[key] = value
        options = broker.BrokerOptions(url, **tls)
        broker.make_client(options, "check")  # the URL and TLS files, now, before the daemon starts
        return cls(options, device, protocol.check_labels(pairs, "--label"), fleet)

    def to_args(self) -> list[str]:
        """The ``ocre daemon`` options that make this member again (a systemd unit's): file paths
        made absolute, and never a password, which stays in ``$OCRE_FLEET_PASSWORD``."""
        b, url = self.broker, urllib.parse.urlsplit(self.broker.url)
        if url.password is not None:
            raise InvalidInput(
                f"the broker URL of --fleet carries a password: give it as $OCRE_FLEET_PASSWORD "
                f"(with --fleet-username {url.username or 'NAME'}) instead"
            )
        args = ["--fleet", b.url, "--device-id", self.device]
        for key, value in sorted(self.labels.items()):
            args += ["--label", f"{key}={value}"]
        if self.fleet != DEFAULT_FLEET:
            args += ["--fleet-name", self.fleet]
        for flag, path in (("--fleet-ca", b.ca), ("--fleet-cert", b.cert), ("--fleet-key", b.key)):
            if path:
                args += [flag, os.path.abspath(path)]
        if b.username:
            args += ["--fleet-username", b.username]
        return args


class Member:
    """One daemon's membership: MQTT on paho's thread, reconciling on a worker thread."""

    def __init__(self, config: MemberConfig) -> None:
        self.config = config
        self.device, self.fleet = config.device, config.fleet
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._deployments: dict[str, Deployment] = {}
        self._burst: dict[str, Deployment] | None = None  # deployments of a burst still arriving
        self._synced = False
        self._sync_deadline = 0.0
        self._peers: dict[str, DeviceView] = {}
        self._peer_subs: set[str] = set()
        self._records: dict[str, Progress] = {}  # in flight, failed or held: what no container shows
        self._published: dict[str, Any] | None = None
        self._published_at = 0.0
        self._client: mqtt.Client | None = None
        self._host: DaemonHost | None = None
        self._bridge: Bridge | None = None
        self._bridged: frozenset[str] = frozenset()  # the prefixes last given to the bridge
        self._thread: threading.Thread | None = None
        self._settled_at = 0.0  # when the next settling container counts as running
        self._announce = False  # log the first state published after a connect
        self._started_at = 0.0  # the daemon's start (uptime in the state message)

    # ---- life ----------------------------------------------------------------------------------
    def start(self, daemon: Daemon) -> None:
        """Connect (in the background: a broker that is down is retried) and start reconciling."""
        self._host = DaemonHost(daemon)
        self._started_at = daemon.started_at
        presence = protocol.presence_topic(self.fleet, self.device)
        client = broker.make_client(
            self.config.broker, f"ocre-{self.fleet}-{self.device}", will=(presence, protocol.presence(False))
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        self._client = client
        self._bridge = Bridge.for_client(self.fleet, self.device, daemon, client)
        _, host, port = self.config.broker.parts
        client.connect_async(host, port, keepalive=self.config.keepalive)
        client.loop_start()
        self._thread = threading.Thread(target=self._run, name=f"fleet-member-{self.device}", daemon=True)
        self._thread.start()
        log.info("fleet member %s joining %s on %s", self.device, self.fleet, self.config.broker.display())

    def close(self, timeout: float = 5.0) -> None:
        """Stop reconciling, say offline (retained) and disconnect cleanly, so no Will is needed."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._bridge is not None:
            self._bridge.close()  # local and bus subscriptions gone before the client goes
        client = self._client
        if client is None:
            return
        if client.is_connected():
            info = client.publish(
                protocol.presence_topic(self.fleet, self.device), protocol.presence(False), qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout=min(timeout, 2.0))
            except (RuntimeError, ValueError):
                pass
        client.disconnect()
        client.loop_stop()
        log.info("fleet member %s left %s", self.device, self.fleet)

    # ---- MQTT callbacks (paho's thread: record and wake, never act) -----------------------------
    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            log.warning("fleet broker %s refused the member: %s", self.config.broker.display(), reason)
            return
        with self._lock:
            self._synced, self._burst = False, {}
            self._sync_deadline = time.monotonic() + self.config.sync_timeout
            self._peer_subs = set()  # a clean session: the broker forgot them
            self._published = None  # republish the state once synced
            self._announce = True
        presence = protocol.presence_topic(self.fleet, self.device)
        client.publish(presence, protocol.presence(True), qos=1, retain=True)
        client.subscribe(protocol.deployments_filter(self.fleet), qos=1)
        client.subscribe(presence, qos=1)  # its retained message ends the deployments' burst
        if self._bridge is not None:
            self._bridge.resubscribe()  # the bus filters of what it bridges
        log.info("fleet member %s connected to %s", self.device, self.config.broker.display())
        self._wake.set()

    def _on_connect_fail(self, _c: object, _u: object) -> None:
        """paho retries on its own (with backoff) and says so only at debug level: say it here."""
        if not self._stop.is_set():
            log.warning(
                "fleet member %s cannot reach %s; retrying", self.device, self.config.broker.display()
            )

    def _on_disconnect(self, _c: object, _u: object, _f: object, reason: Any, _p: object) -> None:
        if not self._stop.is_set():
            log.warning("fleet member %s lost the broker (%s); reconnecting", self.device, reason)

    def _on_message(self, client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if self._bridge is not None and self._bridge.handle(msg.topic, msg.payload):
            return  # a bus message: the bridge queues it
        try:
            self._take(client, msg.topic, bytes(msg.payload))
        except InvalidInput as exc:
            log.warning("fleet: ignoring a message on %s: %s", msg.topic, exc.message)

    def _take(self, client: mqtt.Client, topic: str, payload: bytes) -> None:
        parsed = protocol.parse_topic(self.fleet, topic)
        if parsed is None:
            return
        kind, name, leaf = parsed
        if kind == "deployments":
            deployment = Deployment.from_message(name, payload) if payload else None
            with self._lock:
                target = self._burst if self._burst is not None else self._deployments
                if deployment is None:
                    target.pop(name, None)
                else:
                    protocol.keep(target, name, deployment, protocol.MAX_DEPLOYMENTS, "deployment")
        elif kind == "devices" and name == self.device:
            if leaf != "presence":
                return
            with self._lock:
                self._end_burst()
            offline = payload and protocol.decode(payload, "own presence").get("online") is False
            if offline and not self._stop.is_set():
                # a Will of an earlier connection, published after this one said online
                client.publish(topic, protocol.presence(True), qos=1, retain=True)
        elif kind == "devices":
            with self._lock:
                if name not in self._peer_subs:
                    return
                apply_device_message(self._peers, name, leaf, payload)
        else:
            return
        self._wake.set()

    def _end_burst(self) -> None:
        """The retained deployments have all arrived: they replace what the member had (held lock)."""
        if self._burst is not None:
            self._deployments, self._burst = self._burst, None
            self._synced = True

    # ---- the worker ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            timeout, settles_in = self.config.poll, self._settled_at - time.time()
            if settles_in > 0:  # look again when a starting container has settled, not a poll later
                timeout = min(timeout, settles_in + 0.01)
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._step()
            except Exception:  # the member must outlive any one bad step
                log.exception("fleet member %s: reconcile step failed", self.device)

    def _step(self) -> None:
        with self._lock:
            if not self._synced and self._burst is not None and time.monotonic() > self._sync_deadline:
                log.warning(
                    "fleet: no end of the retained burst within %ss; going on", self.config.sync_timeout
                )
                self._end_burst()
            if not self._synced:
                return
            deployments = dict(self._deployments)
        self._follow_peers(deployments)
        host = self._require_host()
        with self._lock:  # a watched device not heard from yet waits; it is not offline
            peers = peers_of(self._peers, self._peer_subs)
        containers = host.containers()
        current = self._current(host.current(containers))
        self._settled_at = host.settled_at(containers)
        actions = decide(self.device, self.config.labels, deployments, current, peers)
        for action in actions:
            if self._stop.is_set():
                return
            self._act(action)
        self._update_bridge(deployments, host.containers() if actions else containers)
        self._publish_state()

    def _update_bridge(self, deployments: dict[str, Deployment], containers: list[dict[str, Any]]) -> None:
        """Bridge what the fleet's containers here were deployed to bridge: a generation's prefixes
        once its container exists, never those of one held or refused before it started; a removed
        deployment's container, and with it its prefixes, is gone."""
        prefixes = frozenset(DaemonHost.bridged(containers, deployments))
        if self._bridge is not None and prefixes != self._bridged:
            self._bridge.update(prefixes)
            self._bridged = prefixes
            log.info("fleet member %s bridges %s", self.device, ", ".join(sorted(prefixes)) or "nothing")

    def _require_host(self) -> DaemonHost:
        if self._host is None:
            raise RuntimeError("the member has not been started")
        return self._host

    def _current(self, containers: dict[str, tuple[Progress, str]]) -> dict[str, Progress]:
        """What this device has, by deployment: its records first (they are newer than any container
        they describe), then its containers."""
        out = {name: progress for name, (progress, _) in containers.items()}
        out.update(self._records)
        return out

    def _act(self, action: Apply | Remove | Hold) -> None:
        host = self._require_host()
        if isinstance(action, Hold):
            self._records[action.deployment.name] = action.progress
            return
        if isinstance(action, Remove):
            try:
                host.remove(action.name)
            except OcreError as exc:
                log.error("fleet deployment %s: cannot remove: %s", action.name, exc.message)
                return
            self._records.pop(action.name, None)
            self._publish_state()
            return
        d = action.deployment
        if not self._wanted(d):  # changed since the decision: the next step decides again
            return

        def phase(state: str, digest: str | None) -> None:
            self._records[d.name] = Progress(d.generation, state, digest)
            self._publish_state()

        try:
            started = host.apply(d, phase, lambda: self._wanted(d))
        except OcreError as exc:
            error = exc.message.replace("\n", " ")
            log.error("fleet deployment %s: %s", d.name, error)
            self._records[d.name] = Progress(d.generation, "failed", d.digest, error)
        except Exception as exc:  # a bug must not stop the member: report it as this deployment's
            log.exception("fleet deployment %s failed", d.name)
            self._records[d.name] = Progress(d.generation, "failed", d.digest, f"internal error: {exc!r}")
        else:
            self._records.pop(d.name, None)  # the container (or the one it did not replace) tells
            if not started:
                log.info("fleet deployment %s: generation %s changed while pulling", d.name, d.generation)
        self._publish_state()

    def _wanted(self, d: Deployment) -> bool:
        """Whether this device should still run ``d`` (the deployments change while it pulls)."""
        with self._lock:
            now = self._deployments.get(d.name)
        return (
            not self._stop.is_set()
            and now is not None
            and now.generation == d.generation
            and now.selects(self.config.labels)
        )

    def _follow_peers(self, deployments: dict[str, Deployment]) -> None:
        """Subscribe to the devices of the batch before this device's in each batched rollout."""
        wanted = watched(self.device, self.config.labels, deployments)
        client = self._client
        if client is None:
            return
        with self._lock:
            new, gone = wanted - self._peer_subs, self._peer_subs - wanted
            self._peer_subs = wanted
            for name in new | gone:  # what it knew of a peer before (re)subscribing may be stale:
                self._peers.pop(name, None)  # not heard from yet, the peer's batch waits for it
        for name in sorted(new):
            client.subscribe([(topic, 1) for topic in protocol.device_topics(self.fleet, name)])
        for name in sorted(gone):
            client.unsubscribe(list(protocol.device_topics(self.fleet, name)))

    # ---- the state message ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The state message as it would be published now."""
        import ocre_py

        host = self._require_host()
        containers = host.containers()
        have = host.current(containers)
        deployments: dict[str, tuple[Progress, str | None]] = {
            name: (progress, cid) for name, (progress, cid) in have.items()
        }
        for name, record in self._records.items():
            cid = have[name][1] if name in have else None
            deployments[name] = (record, cid)
        restarting = sum(1 for c in containers if c.get("restarting"))
        failing = any(p.failed for p, _ in deployments.values()) or any(
            c.get("status") == "ERROR" for c in containers
        )
        return state_message(
            self.device,
            self.config.labels,
            version=ocre_py.__version__,
            health={
                "status": "degraded" if failing or restarting else "ok",
                "uptime_s": round(time.time() - self._started_at, 3),
                "restarting": restarting,
            },
            resources=host.resources(containers),
            deployments=deployments,
            containers=host.summary(containers),
        )

    def _publish_state(self) -> None:
        """Publish the state (retained) when it changed, or when the refresh interval passed."""
        client = self._client
        if client is None or not client.is_connected():
            return
        message = self.state()
        now = time.monotonic()
        with self._lock:
            if not self._synced:
                return
            unchanged = self._published == stable(message)
            if unchanged and now - self._published_at < self.config.refresh:
                return
            self._published, self._published_at = stable(message), now
        client.publish(
            protocol.state_topic(self.fleet, self.device), encode_state(message), qos=1, retain=True
        )
        if self._announce:
            self._announce = False
            log.info("fleet member %s is online in fleet '%s'", self.device, self.fleet)
