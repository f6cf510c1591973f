"""Per-container event queues (spec D1: a container only ever sees its own events)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

TIMER, GPIO, SENSOR, MESSAGING = 0, 1, 2, 3

#: Upstream's ring holds 32 events (``SIZE_OCRE_EVENT_BUFFER``); ours is per container, same size.
DEFAULT_QUEUE_SIZE = 32


@dataclass(frozen=True)
class Message:
    """Host-side bytes of one published message; copied into the recipient at ``ocre_get_event`` time."""

    message_id: int
    topic: bytes
    content_type: bytes
    payload: bytes


@dataclass(frozen=True)
class Event:
    type: int
    id: int = 0
    port: int = 0
    state: int = 0
    message: Message | None = None


class EventQueue:
    """A bounded FIFO; a full queue drops the new event (as upstream) and counts the drop."""

    def __init__(self, capacity: int = DEFAULT_QUEUE_SIZE) -> None:
        self.capacity = capacity
        self._items: deque[Event] = deque()
        self._lock = threading.Lock()
        self.dropped = 0

    def put(self, event: Event) -> bool:
        with self._lock:
            if len(self._items) >= self.capacity:
                self.dropped += 1
                return False
            self._items.append(event)
            return True

    def pop(self) -> Event | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
