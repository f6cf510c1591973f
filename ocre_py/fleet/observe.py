"""A live, read-only picture of one fleet, from the broker's retained messages.

``ocre fleet ps``, ``devices``, ``rm`` and ``apply --wait`` all start the same way: subscribe to
every member's presence and state and to every deployment, and take the retained burst the
broker answers with. The end of the burst is known, not guessed: the watcher then publishes a
nonce to its own ``control/<client>`` topic, and the broker delivers a subscription's retained
messages before anything published after it. Where the echo never comes (an ACL refusing the
control topic, a broker that does not order), a short quiet period, then a cap, end the wait.

What it keeps is bounded: at most :data:`~ocre_py.fleet.protocol.MAX_FLEET_DEVICES` devices and
:data:`~ocre_py.fleet.protocol.MAX_FLEET_DEPLOYMENTS` deployments (valid or not); messages about
more are counted in :attr:`FleetWatch.refused` and dropped, so a client publishing a million device
IDs cannot grow ``ocre fleet ps``.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ocre_py.errors import FleetError, InvalidInput
from ocre_py.fleet import broker, protocol
from ocre_py.fleet.protocol import Deployment
from ocre_py.fleet.state import DeviceView, apply_device_message

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)
T = TypeVar("T")

BURST_CAP = 5.0  # longest wait for the retained burst
BURST_QUIET = 0.5  # without the echo, this long without a message ends it


class FleetWatch:
    """``with FleetWatch(options, fleet) as watch:`` the fleet's devices and deployments, kept up to
    date until the block ends. Read the dictionaries under :meth:`wait` or :attr:`lock`."""

    def __init__(
        self,
        options: broker.BrokerOptions,
        fleet: str,
        *,
        burst_cap: float = BURST_CAP,
        max_devices: int | None = None,
        max_deployments: int | None = None,
    ) -> None:
        protocol.check_fleet_name(fleet, "--fleet")
        self.options, self.fleet, self.burst_cap = options, fleet, burst_cap
        self.max_devices = max_devices or protocol.MAX_FLEET_DEVICES
        self.max_deployments = max_deployments or protocol.MAX_FLEET_DEPLOYMENTS
        self.devices: dict[str, DeviceView] = {}
        self.deployments: dict[str, Deployment] = {}
        self.invalid: dict[str, str] = {}  # deployments whose retained message did not check out
        self.refused = 0  # messages about devices or deployments past the bounds
        self.lock = threading.Condition()
        self._nonce = secrets.token_hex(8)
        self._control = protocol.control_topic(fleet, f"ocre-{self._nonce}")
        self._subscribed = False
        self._synced = False
        self._last_message = time.monotonic()
        self._client: mqtt.Client | None = None

    # ---- opening and closing -------------------------------------------------------------------
    def __enter__(self) -> FleetWatch:
        client = broker.make_client(self.options, f"ocre-control-{self._nonce}")
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        broker.connect(self.options, client, on_connect=self._subscribe)
        self._client = client
        try:
            with self.lock:
                self._wait_burst()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _wait_burst(self) -> None:
        """Until the echo comes back (held lock), or quiet after the SUBACK, or the cap."""
        deadline = time.monotonic() + self.burst_cap
        while not self._synced:
            now = time.monotonic()
            if now >= deadline:
                log.warning("fleet: the retained burst did not end within %ss", self.burst_cap)
                return
            if self._subscribed and now - self._last_message >= BURST_QUIET:
                return
            self.lock.wait(min(deadline - now, BURST_QUIET / 5))

    # ---- paho callbacks ------------------------------------------------------------------------
    def _subscribe(self, client: mqtt.Client) -> None:
        """On every (re)connection: a clean session forgets subscriptions."""
        client.subscribe(
            [
                (protocol.devices_filter(self.fleet), 1),
                (protocol.deployments_filter(self.fleet), 1),
                (self._control, 1),
            ]
        )

    def _on_subscribe(self, client: mqtt.Client, *_: object) -> None:
        with self.lock:
            self._subscribed, self._last_message = True, time.monotonic()
        client.publish(self._control, self._nonce.encode(), qos=1)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self._last_message = time.monotonic()
            try:
                self._take(msg.topic, bytes(msg.payload))
            except InvalidInput as exc:
                log.debug("fleet: ignoring a message on %s: %s", msg.topic, exc.message)
            self.lock.notify_all()

    def _take(self, topic: str, payload: bytes) -> None:
        if topic == self._control:
            self._synced = self._synced or payload == self._nonce.encode()
            return
        parsed = protocol.parse_topic(self.fleet, topic)
        if parsed is None:
            return
        kind, name, leaf = parsed
        if kind == "devices":
            if name not in self.devices and payload and len(self.devices) >= self.max_devices:
                self.refused += 1
                return
            apply_device_message(self.devices, name, leaf, payload)
        elif kind == "deployments":
            known = name in self.deployments or name in self.invalid
            self.deployments.pop(name, None)
            self.invalid.pop(name, None)
            if not payload:
                return
            if not known and len(self.deployments) + len(self.invalid) >= self.max_deployments:
                self.refused += 1
                return
            try:
                self.deployments[name] = Deployment.from_message(name, payload)
            except InvalidInput as exc:
                self.invalid[name] = exc.message

    # ---- using it ------------------------------------------------------------------------------
    def wait(self, predicate: Callable[[], T], timeout: float) -> T:
        """``predicate()`` (called under the lock on every message) once it is true, or its last
        value when ``timeout`` seconds passed."""
        with self.lock:
            return self.lock.wait_for(predicate, timeout)

    def publish(self, topic: str, payload: bytes, *, retain: bool = True) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement."""
        if self._client is None:
            raise FleetError("the fleet watch is closed")
        broker.publish_acked(self.options, self._client, topic, payload, retain=retain)
