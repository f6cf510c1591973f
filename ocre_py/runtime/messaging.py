"""Topic-prefix messaging across all containers of one runtime, and to/from the host (spec 2.5).

A subscription matches every published topic it is a prefix of, the publisher's own included. All
recipients of one publish share one message ID, and the ID advances only when something was
delivered. Delivery to a container only queues host-side bytes; the copy into guest memory happens
when the recipient pops the event (see ``host_api``), on the recipient's own thread.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Protocol

from ocre_py.runtime.errno import EBUSY, EINVAL, EMSGSIZE, ENOENT, ENOMEM
from ocre_py.runtime.events import Message

MAX_TOPIC_STORED = 63  # upstream stores subscriptions truncated to 63 characters
MAX_SUBSCRIPTIONS = 32  # per container
MAX_PAYLOAD = 64 * 1024  # bounds what one publish can make a recipient hold


class Recipient(Protocol):
    def deliver_message(self, message: Message) -> bool:
        """Queue ``message``; False when the recipient's queue is full."""
        ...


HostCallback = Callable[[Message], None]


class MessageBroker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[Recipient, list[bytes]] = {}
        self._host: dict[int, tuple[bytes, HostCallback]] = {}
        self._host_ids = itertools.count(1)
        self._next_id = 1

    def subscribe(self, recipient: Recipient, topic: bytes) -> int:
        if not topic:
            return -EINVAL
        topic = topic[:MAX_TOPIC_STORED]
        with self._lock:
            topics = self._subs.setdefault(recipient, [])
            if topic in topics:
                return 0
            if len(topics) >= MAX_SUBSCRIPTIONS:
                return -ENOMEM
            topics.append(topic)
        return 0

    def unsubscribe_all(self, recipient: Recipient) -> None:
        with self._lock:
            self._subs.pop(recipient, None)

    def subscriptions(self, recipient: Recipient) -> list[str]:
        with self._lock:
            return [t.decode(errors="replace") for t in self._subs.get(recipient, [])]

    def subscribe_host(self, prefix: str, callback: HostCallback) -> int:
        """Let host code receive messages (``ocre subscribe``); pass the handle to unsubscribe_host."""
        handle = next(self._host_ids)
        with self._lock:
            self._host[handle] = (prefix.encode(), callback)
        return handle

    def unsubscribe_host(self, handle: int) -> None:
        with self._lock:
            self._host.pop(handle, None)

    def publish(self, topic: bytes, content_type: bytes, payload: bytes) -> int:
        """Deliver to every matching subscriber: 0, ``-ENOENT`` (no match), ``-EBUSY`` (all queues full)."""
        if not topic or not content_type or not payload:
            return -EINVAL
        if len(payload) > MAX_PAYLOAD:
            return -EMSGSIZE
        with self._lock:
            recipients = [r for r, topics in self._subs.items() if any(topic.startswith(t) for t in topics)]
            host = [cb for prefix, cb in self._host.values() if topic.startswith(prefix)]
            if not recipients and not host:
                return -ENOENT
            message = Message(self._next_id, topic, content_type, payload)
            delivered = sum(1 for r in recipients if r.deliver_message(message)) + len(host)
            if delivered:
                self._next_id += 1
        for callback in host:
            callback(message)
        return 0 if delivered else -EBUSY
