"""What the fleet view shows, built from the fleet's MQTT messages alone (no member is asked).

Each message on ``ocre/v1/<fleet>/#`` updates one device, one deployment or the list of recent
bus messages, and :meth:`FleetModel.apply` returns that change as one small event for the page.
Everything kept is trimmed to what the page shows and bounded in count, so a hostile or broken
member cannot grow the view's memory: at most :data:`MAX_DEVICES` devices with their
:data:`~ocre_py.fleet.protocol.MAX_CONTAINERS` containers, :data:`MAX_DEPLOYMENTS` deployments and
the last ``bus_size`` bus messages, each text cut to the length the page needs.

Not thread-safe by itself: :class:`~ocre_py.fleet.view.FleetView` calls it under one lock.
"""

from __future__ import annotations

import base64
import re
import time
from collections import deque
from typing import Any

from ocre_py.errors import InvalidInput
from ocre_py.fleet.protocol import (
    MAX_CONTAINERS,
    MAX_FLEET_DEPLOYMENTS,
    MAX_FLEET_DEVICES,
    Deployment,
    Envelope,
    bound,
    check_labels,
    decode,
    parse_topic,
)
from ocre_py.fleet.reconcile import Progress

MAX_DEVICES = MAX_FLEET_DEVICES  # the bounds of every reader of the whole fleet (ocre fleet too)
MAX_DEPLOYMENTS = MAX_FLEET_DEPLOYMENTS
BUS_SIZE = 50
SHOWN_PAYLOAD = 1024  # characters of a bus payload the page shows
SHORT, TEXT = 64, 256
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(value: object, limit: int = SHORT) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _number(value: object) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if value == value and abs(value) < 1e18 else None  # no NaN, no huge values


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _labels(value: object) -> dict[str, str]:
    try:
        return check_labels(value, "labels")
    except InvalidInput:
        return {}


def trim_state(data: dict[str, Any]) -> dict[str, Any]:
    """The parts of a member's state message the page shows, each bounded."""
    health, res = _mapping(data.get("health")), _mapping(data.get("resources"))
    deployments: dict[str, dict[str, Any]] = {}
    for name, entry in list(_mapping(data.get("deployments")).items())[:MAX_DEPLOYMENTS]:
        p = Progress.from_dict(entry)  # read as every reader of a state message reads it
        if p is None:
            continue
        deployments[str(name)[:SHORT]] = {
            "generation": p.generation[:SHORT],
            "state": p.state[:SHORT],
            "digest": _text(p.digest, 80),
            "error": _text(p.error, TEXT),
            "reason": _text(p.reason, TEXT),
            "exit_code": _number(p.exit_code),
            "container": _text(_mapping(entry).get("container")),
        }
    containers = data.get("containers")
    return {
        "ts": _number(data.get("ts")),
        "labels": _labels(data.get("labels")),
        "version": _text(data.get("version")),
        "health": {
            "status": _text(health.get("status")),
            "uptime_s": _number(health.get("uptime_s")),
            "restarting": _number(health.get("restarting")),
        },
        "resources": {k: _number(res.get(k)) for k in ("rss_bytes", "cpus", "disk_free_bytes", "containers")},
        "deployments": deployments,
        "containers": [
            {
                k: _text(c.get(k), TEXT if k == "image" else 80)
                for k in ("id", "image", "status", "digest", "deployment")
            }
            for c in (containers if isinstance(containers, list) else [])[:MAX_CONTAINERS]
            if isinstance(c, dict)
        ],
    }


def trim_deployment(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A deployment as the page lists it; one that does not check out is shown with its error."""
    try:
        d = Deployment.from_dict(data, f"deployment '{name}'")
        if d.name != name:  # as members refuse it (Deployment.from_message)
            raise InvalidInput(f"deployment {name}: its message names '{d.name}'")
    except InvalidInput as exc:
        return {"name": name, "image": _text(data.get("image"), TEXT), "error": str(exc)[:TEXT]}
    return {
        "name": d.name,
        "image": d.image,
        "digest": d.digest,
        "generation": d.generation,
        "selector": d.selector,
        "bridge": list(d.bridge),
        "restart": d.restart,
        "rollout": {"batch_size": d.rollout.batch_size, "max_unavailable": d.rollout.max_unavailable},
        "batches": len(d.plan),
    }


class FleetModel:
    """Devices, deployments and recent bus messages of one fleet, as the page shows them."""

    def __init__(self, fleet: str, *, bus_size: int = BUS_SIZE) -> None:
        self.fleet = fleet
        self.devices: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.bus: deque[dict[str, Any]] = deque(maxlen=bus_size)
        self.connected = False
        self.counts = {"messages": 0, "ignored": 0, "refused": 0, "bus": 0}
        self._bus_seq = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "kind": "snapshot",
            "fleet": self.fleet,
            "connected": self.connected,
            "devices": self.devices,
            "deployments": self.deployments,
            "bus": list(self.bus),
            "bus_size": self.bus.maxlen,
            "counts": self.counts,
            "now": time.time(),
        }

    def set_connected(self, connected: bool) -> dict[str, Any]:
        self.connected = connected
        return {"kind": "broker", "connected": connected}

    def apply(self, topic: str, payload: bytes, now: float | None = None) -> dict[str, Any] | None:
        """Take one MQTT message; the event for the page, or None when nothing changed."""
        now = time.time() if now is None else now
        self.counts["messages"] += 1
        parsed = parse_topic(self.fleet, topic)
        if parsed is None:
            self.counts["ignored"] += 1  # another kind of fleet topic (a tool's control echo…)
            return None
        kind, name, leaf = parsed
        if len(payload) > bound(kind):
            self.counts["refused"] += 1
            return None
        try:
            if kind == "devices":
                return self._device(name, leaf, payload, now)
            if kind == "deployments":
                return self._deployment(name, payload)
            return self._bus(leaf, payload, now)
        except InvalidInput:
            self.counts["refused"] += 1
            return None

    def _device(self, name: str, leaf: str, payload: bytes, now: float) -> dict[str, Any] | None:
        device = self.devices.get(name)
        if not payload:  # a retained message deleted: forget what it said
            if device is None:
                return None
            device.pop(leaf, None)
            if "presence" not in device and "state" not in device:
                del self.devices[name]
                return {"kind": "device", "id": name, "device": None}
            return {"kind": "device", "id": name, "device": device}
        data = decode(payload, f"{leaf} of device '{name}'")
        if device is None:
            if len(self.devices) >= MAX_DEVICES:
                self.counts["refused"] += 1
                return None
            device = self.devices[name] = {"id": name}
        if leaf == "presence":
            online = data.get("online")
            device["presence"] = {
                "online": online if isinstance(online, bool) else None,
                "ts": _number(data.get("ts")),
            }
        else:
            device["state"] = trim_state(data)
        seen = [t for t in (device.get("presence", {}).get("ts"), device.get("state", {}).get("ts")) if t]
        device["last_seen"] = max(seen) if seen else now
        return {"kind": "device", "id": name, "device": device}

    def _deployment(self, name: str, payload: bytes) -> dict[str, Any] | None:
        if not payload:
            if self.deployments.pop(name, None) is None:
                return None
            return {"kind": "deployment", "name": name, "deployment": None}
        if name not in self.deployments and len(self.deployments) >= MAX_DEPLOYMENTS:
            self.counts["refused"] += 1
            return None
        entry = self.deployments[name] = trim_deployment(name, decode(payload, f"deployment '{name}'"))
        return {"kind": "deployment", "name": name, "deployment": entry}

    def _bus(self, topic: str, payload: bytes, now: float) -> dict[str, Any]:
        envelope = Envelope.decode(topic, payload)
        self.counts["bus"] += 1
        self._bus_seq += 1
        message: dict[str, Any] = {
            "seq": self._bus_seq,
            "ts": now,
            "topic": envelope.topic[:TEXT],
            "from": envelope.origin[:SHORT],
            "content_type": envelope.content_type[:SHORT],
            "size": len(envelope.payload),
        }
        raw = envelope.payload
        try:
            text = raw.decode()
            if _CONTROL.search(text):  # valid UTF-8 but not text: show it as binary
                raise UnicodeDecodeError("utf-8", raw, 0, 1, "control characters")
            message["payload"] = text[:SHOWN_PAYLOAD]
            message["truncated"] = len(text) > SHOWN_PAYLOAD
        except UnicodeDecodeError:
            cut = SHOWN_PAYLOAD // 4 * 3  # base64 of this many bytes is SHOWN_PAYLOAD characters
            message["payload"] = base64.b64encode(raw[:cut]).decode()
            message["encoding"], message["truncated"] = "base64", len(raw) > cut
        self.bus.append(message)
        return {"kind": "bus", "message": message}
