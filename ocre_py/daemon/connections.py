"""Connection bookkeeping for the daemon's listeners: caps, deadlines, eviction, file descriptors.

Each connection costs a thread and a file descriptor. Without bounds, ~1,100 TCP connections that
send one header line and stop (issue 13) used up the 1,024 descriptors of a common
``RLIMIT_NOFILE``: the Unix socket stopped answering and running containers lost log output to
EMFILE. The rules here keep the daemon serving its trusted clients under such a flood:

- **A budget of descriptors for connections.** :func:`connection_budget` leaves at least half of
  the open-files limit (and never fewer than :data:`RESERVED_FDS`) to containers, logs and records;
  the rest is split between the listeners.
- **Unauthenticated TCP is a class of its own.** A TCP connection counts as *pending* until a
  request on it carries the right token; pending connections are capped at an eighth of their
  listener's share. When the cap is reached, the oldest pending connection is dropped for the new
  one, so a flood of silent connections cannot lock an authenticated client out (it sends its
  headers at once and leaves the pending class before the flood catches up).
- **Deadlines on reading, not only on each ``recv``.** A connection has :data:`HEADER_TIMEOUT`
  seconds for its first request line and headers, a kept-alive one :data:`IDLE_TIMEOUT` seconds
  between requests, and a body must arrive within :func:`body_deadline` (a base plus a minimum
  rate). A peer that dribbles one byte at a time is cut when the deadline passes.
- **A full listener evicts an idle connection, or refuses.** When a listener holds its share, a
  new connection replaces the oldest one that is idle between requests (the client reconnects on
  its next call); if every connection is busy, the new one gets ``503`` and is closed at once.

The listener's own thread calls :meth:`ConnectionTable.reap` between accepts (``serve_forever``'s
``service_actions``), so deadlines need no thread of their own. A connection is cut with
``shutdown(SHUT_RDWR)``, which wakes the handler thread blocked in ``recv``; that thread closes it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import threading
import time
from dataclasses import dataclass, field

HEADER_TIMEOUT = 10.0  # a new connection's first request line and headers
IDLE_TIMEOUT = 60.0  # a kept-alive connection waiting for its next request
BODY_TIMEOUT = 30.0  # plus the size at BODY_MIN_RATE: the time a request body may take
BODY_MIN_RATE = 1024 * 1024  # bytes per second
RESERVED_FDS = 256  # the least left to containers, their logs, records and modules
MAX_CONNECTIONS = 2048  # all listeners together, whatever the limit allows


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (what a service may do unprivileged).

    Returns the (soft, hard) limits now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 64


def connection_budget() -> int:
    """How many connections all listeners together may hold open (see the module docstring)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    reserve = max(RESERVED_FDS, soft // 2)
    return max(16, min(MAX_CONNECTIONS, soft - _open_fds() - reserve))


def body_deadline(length: int) -> float:
    """Seconds a body of ``length`` bytes may take to arrive."""
    return BODY_TIMEOUT + length / BODY_MIN_RATE


@dataclass(eq=False)
class Connection:
    """One accepted connection: whether it has proved itself, what it is doing, its deadline."""

    sock: socket.socket
    authenticated: bool
    idle: bool = True  # between requests (or before the first): safe to drop
    deadline: float | None = None
    since: float = field(default_factory=time.monotonic)  # when it last became idle
    requests: int = 0
    cut: bool = False

    def shut(self) -> None:
        """Wake the thread serving it (its reads end); that thread closes the socket."""
        if self.cut:
            return
        self.cut = True
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown: an SSLSocket's would drop its TLS state under the
            # thread that is reading.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)


@dataclass(frozen=True)
class Limits:
    """One listener's share: ``total`` connections, of which at most ``pending`` unauthenticated."""

    total: int
    pending: int

    @classmethod
    def share(cls, budget: int, listeners: int, *, tcp: bool) -> Limits:
        total = max(8, budget // max(1, listeners))
        return cls(total, max(4, total // 8) if tcp else total)


class ConnectionTable:
    """The connections of one listener, under one lock."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._conns: dict[socket.socket, Connection] = {}
        #: Counters for tests and the reliability report.
        self.evicted = 0
        self.refused = 0
        self.timed_out = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._conns)

    def admit(self, sock: socket.socket, *, authenticated: bool) -> Connection | None:
        """Track a new connection, making room by the rules above; None: refuse it."""
        now = time.monotonic()
        conn = Connection(sock, authenticated, deadline=now + HEADER_TIMEOUT, since=now)
        with self._lock:
            live = [c for c in self._conns.values() if not c.cut]
            if not authenticated:
                pending = [c for c in live if not c.authenticated]
                if len(pending) >= self.limits.pending:
                    live.remove(self._evict(min(pending, key=lambda c: c.since)))
            if len(live) >= self.limits.total:
                idle = [c for c in live if c.idle]
                if not idle:
                    self.refused += 1
                    return None
                live.remove(self._evict(min(idle, key=lambda c: (c.authenticated, c.since))))
            # A cut connection holds its descriptor until its thread closes it: bound those too.
            if len(self._conns) >= self.limits.total + self.limits.pending:
                self.refused += 1
                return None
            self._conns[sock] = conn
        return conn

    def _evict(self, conn: Connection) -> Connection:
        self.evicted += 1
        conn.shut()
        return conn

    def lookup(self, sock: socket.socket) -> Connection | None:
        with self._lock:
            return self._conns.get(sock)

    def forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.pop(sock, None)

    def reap(self) -> None:
        """Cut every connection whose deadline has passed."""
        now = time.monotonic()
        with self._lock:
            late = [
                c for c in self._conns.values() if not c.cut and c.deadline is not None and c.deadline < now
            ]
            self.timed_out += len(late)
        for c in late:
            c.shut()

    def shut_all(self) -> None:
        with self._lock:
            conns = list(self._conns.values())
        for c in conns:
            c.shut()

    # ---- phases, called by the handler thread --------------------------------------------------
    def waiting(self, conn: Connection) -> None:
        """Before reading a request line: the first one has HEADER_TIMEOUT, later ones IDLE_TIMEOUT."""
        now = time.monotonic()
        with self._lock:
            conn.idle, conn.since = True, now
            conn.deadline = now + (HEADER_TIMEOUT if conn.requests == 0 else IDLE_TIMEOUT)

    def working(self, conn: Connection, *, authenticated: bool) -> None:
        """Headers are in: the request runs without a deadline (``wait`` and streams take long)."""
        with self._lock:
            conn.idle, conn.deadline = False, None
            conn.requests += 1
            conn.authenticated = conn.authenticated or authenticated

    def reading_body(self, conn: Connection, length: int) -> None:
        with self._lock:
            conn.deadline = time.monotonic() + body_deadline(length)

    def body_done(self, conn: Connection) -> None:
        with self._lock:
            conn.deadline = None
