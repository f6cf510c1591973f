"""Kill, pause and stop requests for one container, as seen from its own thread.

The guest's thread meets these at every Ocre host call (``checkpoint``) and in ``ocre_sleep``;
compute-bound code is reached by bumping its engine's epoch, which traps it at the next loop
header or function entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import wasmtime

from ocre_py.runtime.errno import EINTR


class ContainerKilled(Exception):
    """Unwinds a guest out of a host call when its container is killed."""


class Control:
    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._cond = threading.Condition()
        self.kill_reason: str | None = None
        self.paused = False
        self._stop_requested = False
        self._stop_seen = False
        #: Called on kill and stop, from the caller's thread: closes the stdin feed so a read returns.
        self.on_interrupt: Callable[[], None] | None = None

    def _interrupt(self) -> None:
        if self.on_interrupt is not None:
            self.on_interrupt()

    def reset(self) -> None:
        with self._cond:
            self.kill_reason = None
            self.paused = False
            self._stop_requested = self._stop_seen = False

    def kill(self, reason: str = "killed") -> None:
        with self._cond:
            if self.kill_reason is None:
                self.kill_reason = reason
            self._cond.notify_all()
        self._interrupt()
        self._engine.increment_epoch()

    def pause(self) -> None:
        with self._cond:
            self.paused = True

    def unpause(self) -> None:
        with self._cond:
            self.paused = False
            self._cond.notify_all()

    def request_stop(self) -> None:
        """Ask the guest to finish: its next ``ocre_sleep`` returns ``-EINTR`` once, and stdin ends."""
        with self._cond:
            self._stop_requested = True
            self._cond.notify_all()
        self._interrupt()

    def checkpoint(self) -> None:
        with self._cond:
            while self.paused and self.kill_reason is None:
                self._cond.wait()
            if self.kill_reason is not None:
                raise ContainerKilled(self.kill_reason)

    def sleep(self, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        with self._cond:
            while True:
                if self.kill_reason is not None:
                    raise ContainerKilled(self.kill_reason)
                if self._stop_requested and not self._stop_seen:
                    self._stop_seen = True
                    return -EINTR
                remaining = deadline - time.monotonic()
                if remaining <= 0 and not self.paused:
                    return 0
                self._cond.wait(None if self.paused else remaining)
