"""Docker's ``run --rm`` under the daemon: a container created with ``auto_remove`` is removed once
it exits (whatever ended it), unless the daemon is shutting down or a user started it again."""

from __future__ import annotations

import contextlib
import threading
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
        with contextlib.suppress(OcreError):  # already removed (rm -f), or started again meanwhile
            daemon.remove(container.id)

    threading.Thread(target=remove, name=f"auto-remove-{container.id}", daemon=True).start()
