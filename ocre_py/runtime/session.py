"""What one run of a container owns: its event queue, timers, subscriptions, GPIO callbacks and
the message copies it holds. A session ends with the run and releases all of it (spec D1: a
restart begins with an empty queue; an exit releases timers, subscriptions and callbacks)."""

from __future__ import annotations

import logging

from ocre_py.runtime import events
from ocre_py.runtime.allocator import GuestAllocator
from ocre_py.runtime.control import Control
from ocre_py.runtime.devices import SimulatedDevices
from ocre_py.runtime.errno import EINVAL
from ocre_py.runtime.guestmem import Ctx, GuestMemory
from ocre_py.runtime.messaging import MessageBroker
from ocre_py.runtime.timers import TimerService, TimerTable

log = logging.getLogger(__name__)


class Session:
    def __init__(
        self,
        container_id: str,
        capabilities: set[str],
        control: Control,
        *,
        broker: MessageBroker,
        devices: SimulatedDevices,
        timer_service: TimerService,
        queue_size: int = events.DEFAULT_QUEUE_SIZE,
    ) -> None:
        self.container_id = container_id
        self.capabilities = capabilities
        self.control = control
        self.broker = broker
        self.devices = devices
        self.queue = events.EventQueue(queue_size)
        self.timers = TimerTable(timer_service, self._on_timer)
        self.memory: GuestMemory | None = None
        self.allocator = GuestAllocator()
        self.dispatchers: dict[int, str] = {}
        self._copies: set[int] = set()
        self.skipped_messages = 0

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    # Called from the guest's own thread, inside host functions.
    def checkpoint(self) -> None:
        self.control.checkpoint()

    def sleep(self, seconds: float) -> int:
        return self.control.sleep(seconds)

    # Called from other threads: they only queue host-side data.
    def _on_timer(self, timer_id: int) -> None:
        self.queue.put(events.Event(events.TIMER, id=timer_id))

    def on_gpio(self, port: int, pin: int, level: int) -> None:
        self.queue.put(events.Event(events.GPIO, id=pin, port=port, state=level))

    def deliver_message(self, message: events.Message) -> bool:
        return self.queue.put(events.Event(events.MESSAGING, message=message))

    # Message copies live in guest memory from ocre_get_event until the guest frees them.
    def copy_message_in(self, ctx: Ctx, message: events.Message) -> tuple[int, int, int] | None:
        assert self.memory is not None
        parts = (message.topic + b"\0", message.content_type + b"\0", message.payload)
        offsets: list[int] = []
        for data in parts:
            ptr = self.allocator.alloc(ctx, len(data))
            if ptr == 0 or not self.memory.fits(ctx, ptr, len(data)):
                for done in offsets:
                    self._release(ctx, done)
                self.skipped_messages += 1
                log.warning(
                    "container %s: message %d on %s skipped: no room for a %d-byte copy (%s)",
                    self.container_id, message.message_id, message.topic.decode(errors="replace"),
                    len(data), self.allocator.description,
                )  # fmt: skip
                return None
            self.memory.write(ctx, ptr, data)
            self._copies.add(ptr)
            offsets.append(ptr)
        return offsets[0], offsets[1], offsets[2]

    def _release(self, ctx: Ctx, ptr: int) -> None:
        self._copies.discard(ptr)
        self.allocator.free(ctx, ptr)

    def free_message_copies(self, ctx: Ctx, offsets: tuple[int, int, int]) -> int:
        if not all(o in self._copies for o in offsets):
            return -EINVAL  # never free what the host did not allocate
        for o in offsets:
            self._release(ctx, o)
        return 0

    def close(self) -> None:
        self.timers.clear()
        self.broker.unsubscribe_all(self)
        self.devices.gpio.unlisten_all(self)
        self.queue.clear()
        self._copies.clear()
