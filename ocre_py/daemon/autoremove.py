"""Docker's ``run --rm`` under the daemon: a container created with ``auto_remove`` is removed once
it exits (whatever ended it), unless the daemon is shutting down or a user started it again."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ocre_py.errors import OcreError

if TYPE_CHECKING:
    from ocre_py.daemon.service import Daemon
    from ocre_py.runtime import Container


def remove_after_exit(daemon: Daemon, container: Container) -> None:
    """Remove ``container`` from another thread: the exit hook runs on the container's own thread,
    which a removal waits for."""

    def remove() -> None:
        container.wait_done(30)
        daemon.removed.record(container.id, container.exit_code)  # first: a later wait still answers
        try:
            with contextlib.suppress(OcreError):  # already removed (rm -f), or started again meanwhile
                daemon.remove(container.id)
        finally:
            daemon.removed.settled()

    threading.Thread(target=remove, name=f"auto-remove-{container.id}", daemon=True).start()


class RemovedExits:
    """The exit codes of the last ``--rm`` containers removed, so a ``wait`` that comes after the
    removal (an attached ``ocre run --rm`` whose container ended at once) still gets the code, and
    a ``wait`` before it answers once the container is gone — Docker's ``wait --condition removed``,
    what ``docker run --rm`` waits on. Bounded: the oldest codes are forgotten."""

    def __init__(self, cap: int = 1024) -> None:
        self._codes: OrderedDict[str, int] = OrderedDict()
        self._cap = cap
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)

    def record(self, cid: str, code: int | None) -> None:
        with self._lock:
            self._codes.pop(cid, None)
            self._codes[cid] = 0 if code is None else code
            while len(self._codes) > self._cap:
                self._codes.popitem(last=False)

    def exit_code(self, cid: str) -> int | None:
        with self._lock:
            return self._codes.get(cid)

    def settled(self) -> None:
        """A removal ended (done or given up): wake the waits of :meth:`wait_until`."""
        with self._settled:
            self._settled.notify_all()

    def wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait (bounded) until ``done()``, checked after each removal settles."""
        with self._settled:
            return self._settled.wait_for(done, timeout)
