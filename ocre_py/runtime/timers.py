"""Ocre timers (spec 2.4): per-container IDs (D2), fired by one scheduler thread per runtime.

Each expiry enqueues a TIMER event for the owner. Periodic timers re-arm from their previous
deadline, so they do not drift; ``get_remaining`` counts from the last start or expiry.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ocre_py.runtime.errno import EBUSY, EINVAL

#: Timer IDs a container may use: 1..MAX_TIMERS (the SDK's OCRE_MAX_TIMERS).
MAX_TIMERS = 16
MAX_INTERVAL_MS = 65535


@dataclass
class _Timer:
    id: int
    fire: Callable[[int], None]
    interval: float = 0.0
    periodic: bool = False
    deadline: float | None = None  # monotonic seconds; None when not running
    generation: int = 0


class TimerService:
    """One thread and one heap of deadlines for every timer of a runtime."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Timer, int]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def _arm(self, timer: _Timer) -> None:
        assert timer.deadline is not None
        with self._cond:
            heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer, timer.generation))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ocre-timers", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, _, timer, generation = self._heap[0]
                now = time.monotonic()
                if deadline > now:
                    self._cond.wait(deadline - now)
                    continue
                heapq.heappop(self._heap)
                if generation != timer.generation or timer.deadline is None:
                    continue  # stopped, deleted or re-armed since
                if timer.periodic:
                    # Next deadline from the previous one; skip missed periods instead of bursting.
                    nxt = deadline + timer.interval
                    if nxt <= now:
                        nxt = now + timer.interval
                    timer.deadline = nxt
                    heapq.heappush(self._heap, (nxt, next(self._seq), timer, generation))
                else:
                    timer.deadline = None
                timer.fire(timer.id)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()


class TimerTable:
    """The timers of one container. Results follow the host ABI: 0 or a negative errno."""

    def __init__(self, service: TimerService, fire: Callable[[int], None], max_timers: int = MAX_TIMERS):
        self._service = service
        self._fire = fire
        self._timers: dict[int, _Timer] = {}
        self._lock = threading.Lock()
        self.max_timers = max_timers

    def _valid(self, timer_id: int) -> bool:
        return 1 <= timer_id <= self.max_timers

    def create(self, timer_id: int) -> int:
        if not self._valid(timer_id):
            return -EINVAL
        with self._lock:
            if timer_id in self._timers:
                return -EBUSY
            self._timers[timer_id] = _Timer(timer_id, self._fire)
        return 0

    def start(self, timer_id: int, interval_ms: int, periodic: int) -> int:
        if not 1 <= interval_ms <= MAX_INTERVAL_MS or periodic not in (0, 1):
            return -EINVAL
        with self._lock:
            timer = self._timers.get(timer_id)
            if timer is None:
                return -EINVAL
            timer.generation += 1
            timer.interval = interval_ms / 1000.0
            timer.periodic = bool(periodic)
            timer.deadline = time.monotonic() + timer.interval
        self._service._arm(timer)
        return 0

    def stop(self, timer_id: int) -> int:
        with self._lock:
            timer = self._timers.get(timer_id)
            if timer is None:
                return -EINVAL
            timer.generation += 1
            timer.deadline = None
        return 0

    def delete(self, timer_id: int) -> int:
        with self._lock:
            timer = self._timers.pop(timer_id, None)
            if timer is None:
                return -EINVAL
            timer.generation += 1
            timer.deadline = None
        return 0

    def remaining_ms(self, timer_id: int) -> int:
        with self._lock:
            timer = self._timers.get(timer_id)
            if timer is None:
                return -EINVAL
            if timer.deadline is None:
                return 0
            return max(0, round((timer.deadline - time.monotonic()) * 1000))

    def clear(self) -> None:
        """Disarm and free every timer (container exit; spec 2.4: ours cleans up every container)."""
        with self._lock:
            for timer in self._timers.values():
                timer.generation += 1
                timer.deadline = None
            self._timers.clear()

    def __len__(self) -> int:
        return len(self._timers)
