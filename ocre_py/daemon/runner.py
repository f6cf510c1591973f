"""Run the daemon until told to stop: bind, restore containers, serve, shut down cleanly.

The caller (``ocre daemon``, or a test) owns signals and logging: it passes an event that it sets
on SIGTERM/SIGINT. While running, ``<workdir>/daemon.json`` names the process and the addresses it
actually bound (a TCP port 0 becomes a real port), for tools and tests.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ocre_py.daemon.address import Address
from ocre_py.daemon.connections import raise_open_files_limit
from ocre_py.daemon.server import Server
from ocre_py.daemon.service import Daemon, DaemonOptions
from ocre_py.fsutil import atomic_write

log = logging.getLogger(__name__)
INFO_FILE = "daemon.json"


def run(
    workdir: Path,
    addresses: list[Address],
    stop: threading.Event,
    *,
    options: DaemonOptions | None = None,
    socket_mode: int = 0o600,
    socket_group: int | None = None,
    ready: Callable[[Daemon, Server], None] | None = None,
    tls: ssl.SSLContext | None = None,
    stopping: Callable[[], None] | None = None,
) -> None:
    """Serve until ``stop`` is set. ``ready`` runs once the daemon answers; ``stopping`` runs when it
    is asked to stop, while its containers still run and its API still answers (a fleet member
    says it goes offline then)."""
    options = options or DaemonOptions()
    soft, hard = raise_open_files_limit()
    log.debug("open files limit %d (hard %d)", soft, hard)
    daemon = Daemon(workdir, options=options)
    server: Server | None = None
    started = False
    info = workdir / INFO_FILE
    previous_interval = sys.getswitchinterval()
    if options.switch_interval:
        sys.setswitchinterval(options.switch_interval)
    try:
        server = Server(daemon, addresses, socket_mode=socket_mode, socket_group=socket_group, tls=tls)
        restarted = daemon.restore()
        atomic_write(
            info, json.dumps({"pid": os.getpid(), "addresses": server.addresses, "started_at": time.time()})
        )
        server.start()
        log.info(
            "daemon listening on %s",
            ", ".join(server.addresses),
            extra={"workdir": str(workdir), "addresses": server.addresses, "autostarted": restarted},
        )
        if ready is not None:
            ready(daemon, server)
        started = True
        stop.wait()
        log.info("daemon shutting down")
    finally:
        if started and stopping is not None:
            try:
                stopping()
            except Exception:  # the daemon still closes cleanly
                log.exception("shutdown hook failed")
        if server is not None:
            server.close()
        daemon.close()
        info.unlink(missing_ok=True)
        sys.setswitchinterval(previous_interval)
