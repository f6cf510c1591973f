"""Test helpers for bridging: a real daemon with a Bridge over its own paho client, a bus spy."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ocre_py.daemon import Daemon, DaemonOptions
from ocre_py.fleet.bridge import Bridge
from ocre_py.fleet.broker import BrokerOptions, connect, make_client
from tests.daemon.conftest import wait_until as wait_until  # re-exported for the fleet tests

FLEET = "f1"


class Node:
    """What a member does for bridging: a daemon, a paho client whose messages go to the bridge,
    and re-subscription on (re)connect. ``bridge_prefixes`` waits for the broker's SUBACKs."""

    def __init__(self, root: Path, url: str, device: str) -> None:
        self.device = device
        self.daemon = Daemon(root / device, options=DaemonOptions(shutdown_grace=1.0))
        self.client = make_client(BrokerOptions(url), f"test-{device}")
        self.bridge = Bridge.for_client(FLEET, device, self.daemon, self.client)
        self._subacks = 0
        self._lock = threading.Lock()
        self.client.on_message = lambda _c, _u, m: self.bridge.handle(m.topic, bytes(m.payload))
        self.client.on_subscribe = self._suback
        connect(BrokerOptions(url), self.client, on_connect=lambda _c: self.bridge.resubscribe())

    def _suback(self, *_args: Any) -> None:
        with self._lock:
            self._subacks += 1

    def bridge_prefixes(self, prefixes: set[str]) -> None:
        before, old = self._subacks, self.bridge.filters
        self.bridge.update(prefixes)
        new = len(self.bridge.filters - old)
        wait_until(lambda: self._subacks >= before + new, 10, f"{self.device}'s SUBACKs")

    def listen(self, prefix: str) -> list[Any]:
        """A host subscriber on this daemon (as ``ocre subscribe`` has): the messages it got."""
        got: list[Any] = []
        self.daemon.subscribe(prefix, got.append)
        return got

    def close(self) -> None:
        self.bridge.close()
        self.client.disconnect()
        self.client.loop_stop()
        self.daemon.close()


class BusSpy:
    """A plain MQTT client counting what crosses the bus (the loop check)."""

    def __init__(self, url: str, fleet: str = FLEET) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.client = make_client(BrokerOptions(url), "test-spy")
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.on_subscribe = lambda *_a: self.ready.set()
        connect(
            BrokerOptions(url), self.client, on_connect=lambda c: c.subscribe(f"ocre/v1/{fleet}/bus/#", qos=1)
        )
        assert self.ready.wait(10), "the spy's SUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
