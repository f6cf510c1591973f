"""A fleet observer for the tests and the benchmark: every member's presence and state, as a fleet
view sees them, plus when each device first reported a deployment's generation done.

It also publishes deployments (``apply``), as ``ocre fleet apply`` will: the benchmark measures
from that publish to the last member's state message reporting the generation running, both
stamped in this process.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from ocre_py.fleet import protocol
from ocre_py.fleet.broker import BrokerOptions, connect, make_client
from ocre_py.fleet.reconcile import Progress
from ocre_py.fleet.simulate import publish_deployment


class Observer:
    def __init__(self, url: str, fleet: str) -> None:
        self.url, self.fleet = url, fleet
        self.client = make_client(BrokerOptions(url), f"observer-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.states: dict[str, dict[str, Any]] = {}
        self.online: dict[str, bool] = {}
        #: (deployment, generation) → device → perf_counter when its state first said done
        self.done_at: dict[tuple[str, str], dict[str, float]] = {}
        #: every (device, deployment, state) reported, in the order the broker delivered them
        self.events: list[tuple[str, str, str]] = []
        self.received = 0
        self._cond = threading.Condition()
        self._subscribed = threading.Event()

    def __enter__(self) -> Observer:
        subscribe = lambda c: c.subscribe(protocol.devices_filter(self.fleet), qos=1)  # noqa: E731
        connect(BrokerOptions(self.url), self.client, on_connect=subscribe)  # and on reconnection
        if not self._subscribed.wait(10):
            raise RuntimeError("observer: no SUBACK within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_subscribe(self, *args: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        now = time.perf_counter()
        parsed = protocol.parse_topic(self.fleet, msg.topic)
        if parsed is None or parsed[0] != "devices":
            return
        _, device, leaf = parsed
        data = protocol.decode(msg.payload, msg.topic) if msg.payload else {}
        with self._cond:
            self.received += 1
            if leaf == "presence":
                self.online[device] = data.get("online") is True
            else:
                self.states[device] = data
                for name, entry in (data.get("deployments") or {}).items():
                    self.events.append((device, name, entry.get("state")))
                    p = Progress.from_dict(entry)
                    if p is not None and p.done:
                        self.done_at.setdefault((name, p.generation), {}).setdefault(device, now)
            self._cond.notify_all()

    def progress(self, device: str, name: str) -> dict[str, Any] | None:
        with self._cond:
            return (self.states.get(device, {}).get("deployments") or {}).get(name)

    def wait(self, predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
        """Until ``predicate`` (called under the observer's lock) holds, or ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))  # also for predicates no message changes
            return True

    def done(self, d: protocol.Deployment) -> dict[str, float]:
        return self.done_at.get((d.name, d.generation), {})

    def apply(self, deployment: protocol.Deployment | str) -> float:
        """Publish (or, by name, delete) a deployment; the perf_counter just before the publish."""
        t0 = time.perf_counter()
        publish_deployment(self.client, self.fleet, deployment).wait_for_publish(10)
        return t0
