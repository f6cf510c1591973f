"""A member's state message, built and read in one place.

Members publish it retained on ``devices/<id>/state``; ``ocre fleet``, the fleet view, the
simulated members and the members watching a rollout's previous batch read it back. Its format is
part of the protocol (docs/fleet.md), so every producer builds it with :func:`state_message` and
every reader goes through :class:`DeviceView`, which takes only what it can check:

.. code-block:: json

    {"protocol": "ocre-fleet/1", "device": "d1", "labels": {"role": "sensor"}, "ts": 1700000000.5,
     "version": "0.1.0",
     "health": {"status": "ok", "uptime_s": 12.5, "restarting": 0},
     "resources": {"rss_bytes": 52000000, "cpus": 2, "disk_free_bytes": 9000000000, "containers": 1},
     "deployments": {"hello": {"generation": "…", "state": "running", "digest": "sha256:…",
                               "container": "hello"}},
     "containers": [{"id": "hello", "image": "127.0.0.1:5000/hello:1", "status": "RUNNING",
                     "digest": "sha256:…", "deployment": "hello"}]}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ocre_py.errors import InvalidInput
from ocre_py.fleet import protocol
from ocre_py.fleet.reconcile import Peer, Progress

log = logging.getLogger(__name__)

#: Fields that change on their own between two publishes; a member republishes only when anything
#: else changed (or when its refresh interval passed), so an idle fleet is quiet on the broker.
VOLATILE = {"ts", "uptime_s", "rss_bytes", "disk_free_bytes"}
MAX_ERROR = 300  # characters of an error or reason kept in a state message
SHORT_ERROR = 40  # … when the message would not fit otherwise (encode_state)


def state_message(
    device: str,
    labels: dict[str, str],
    *,
    version: str,
    health: dict[str, Any],
    resources: dict[str, Any],
    deployments: dict[str, tuple[Progress, str | None]],
    containers: list[dict[str, Any]],
    ts: float | None = None,
) -> dict[str, Any]:
    """The state message; ``deployments`` maps a name to its progress and container ID (or None)."""
    return {
        "protocol": protocol.PROTOCOL,
        "device": device,
        "labels": dict(labels),
        "ts": round(time.time() if ts is None else ts, 3),
        "version": version,
        "health": health,
        "resources": resources,
        "deployments": {
            name: {**_short(progress).to_dict(), "container": cid}
            for name, (progress, cid) in sorted(deployments.items())[: protocol.MAX_DEPLOYMENTS]
        },
        "containers": containers[: protocol.MAX_CONTAINERS],
    }


def _short(progress: Progress) -> Progress:
    """Errors and reasons cut to :data:`MAX_ERROR`, so 64 deployments fit in one message."""
    error, reason = progress.error, progress.reason
    if len(error or "") <= MAX_ERROR and len(reason or "") <= MAX_ERROR:
        return progress
    return replace(progress, error=error and error[:MAX_ERROR], reason=reason and reason[:MAX_ERROR])


def encode_state(message: dict[str, Any]) -> bytes:
    """The message within :data:`protocol.MAX_MESSAGE`: the container list (which the resources'
    count still totals) is shortened until it fits, then the deployments' errors and reasons (JSON
    makes a non-ASCII character six bytes), rather than not reporting at all."""
    containers = list(message.get("containers", []))
    while True:
        try:
            return protocol.encode({**message, "containers": containers})
        except InvalidInput:
            if not containers:
                break
            containers = containers[: len(containers) // 2]
    texts = ("error", "reason")
    deployments = {
        name: {k: v[:SHORT_ERROR] if k in texts and isinstance(v, str) else v for k, v in entry.items()}
        for name, entry in (message.get("deployments") or {}).items()
    }
    return protocol.encode({**message, "containers": [], "deployments": deployments})


def stable(message: dict[str, Any]) -> dict[str, Any]:
    """The message without its :data:`VOLATILE` fields: what decides whether to publish again."""
    out = {k: v for k, v in message.items() if k not in VOLATILE}
    for key in ("health", "resources"):
        if isinstance(message.get(key), dict):
            out[key] = {k: v for k, v in message[key].items() if k not in VOLATILE}
    return out


@dataclass
class DeviceView:
    """What a reader knows of one device from its retained presence and state messages."""

    device: str
    online: bool = False
    seen_presence: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    last_seen: float | None = None
    state: dict[str, Any] | None = None  # the last state message that checked out
    deployments: dict[str, Progress] = field(default_factory=dict)
    containers_of: dict[str, str | None] = field(default_factory=dict)  # deployment → container ID

    def on_presence(self, payload: bytes) -> None:
        """An empty payload (a cleared retained message) forgets the presence."""
        if not payload:
            self.online, self.seen_presence = False, False
            return
        data = protocol.decode(payload, f"presence of {self.device}")
        online = data.get("online")
        if not isinstance(online, bool):
            raise InvalidInput.field(None, f"presence of {self.device}: online", online, "true or false")
        self.online, self.seen_presence = online, True
        self._seen(data.get("ts"))

    def on_state(self, payload: bytes) -> None:
        if not payload:
            self.state, self.deployments, self.containers_of = None, {}, {}
            return
        data = protocol.decode(payload, f"state of {self.device}")
        labels = protocol.check_labels(data.get("labels"), f"state of {self.device}: labels")
        deployments = data.get("deployments") or {}
        if not isinstance(deployments, dict) or len(deployments) > protocol.MAX_DEPLOYMENTS:
            raise InvalidInput.field(
                None, f"state of {self.device}: deployments", "…", "a mapping of deployments"
            )
        progress: dict[str, Progress] = {}
        containers: dict[str, str | None] = {}
        for name, entry in deployments.items():
            p = Progress.from_dict(entry)
            if p is not None and isinstance(name, str):
                progress[name] = p
                cid = entry.get("container")
                containers[name] = cid if isinstance(cid, str) else None
        self.labels, self.state, self.deployments, self.containers_of = labels, data, progress, containers
        self._seen(data.get("ts"))

    def _seen(self, ts: object) -> None:
        if isinstance(ts, int | float) and not isinstance(ts, bool):
            self.last_seen = max(self.last_seen or 0.0, float(ts))

    @property
    def peer(self) -> Peer:
        """The view a rollout gate needs. A device not heard from yet counts as online: its batch
        waits for its retained messages instead of stopping the rollout on an empty picture."""
        return Peer(self.online or not self.seen_presence, dict(self.deployments))

    def section(self, key: str) -> dict[str, Any]:
        """``health`` or ``resources`` of the last state message (empty when there is none)."""
        value = (self.state or {}).get(key)
        return value if isinstance(value, dict) else {}


def apply_device_message(views: dict[str, DeviceView], device: str, leaf: str, payload: bytes) -> None:
    """Feed a ``devices/<device>/<leaf>`` message into ``views`` (raises :class:`InvalidInput` for
    a message that does not check out; the view keeps what it had). A device whose presence and
    state are both cleared is forgotten, and a cleared message of an unknown device adds nothing:
    what a reader keeps follows the broker's retained messages (readers bound the count)."""
    view = views.get(device)
    if view is None:
        if not payload:
            return
        view = DeviceView(device)
    if leaf == "presence":
        view.on_presence(payload)
    else:
        view.on_state(payload)
    if not view.seen_presence and view.state is None:
        views.pop(device, None)
    else:
        views[device] = view


def peers_of(views: dict[str, DeviceView], devices: Iterable[str]) -> dict[str, Peer]:
    """What a rollout gate needs of the devices a member follows (see :attr:`DeviceView.peer`)."""
    return {name: (views.get(name) or DeviceView(name)).peer for name in devices}
