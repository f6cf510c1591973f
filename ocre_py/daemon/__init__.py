"""ocred: the Linux service — detached containers with a Docker-like lifecycle, persistence and a
versioned JSON HTTP API on a Unix socket (or TCP with a bearer token).

Layers: :class:`Daemon` (the model, on :class:`~ocre_py.runtime.Runtime`), ``api`` (routes),
``server`` (listeners), :func:`run` (the service loop) and :class:`DaemonClient` (what the CLI and
host tools use). The service side is imported on first use, so a client (``ocre ps``) never loads
wasmtime, and an in-process ``ocre run`` that finds no daemon socket never loads the HTTP client.
"""

from __future__ import annotations

from ocre_py.lazy import lazy_exports

TYPE_CHECKING = False  # not typing's: `ocre ps` imports this package and not typing (issue 14)
if TYPE_CHECKING:
    from ocre_py.daemon.address import Address, default_address, parse, resolve
    from ocre_py.daemon.client import DaemonClient
    from ocre_py.daemon.policy import RestartPolicy
    from ocre_py.daemon.runner import run
    from ocre_py.daemon.server import Server
    from ocre_py.daemon.service import Daemon, DaemonOptions

__getattr__ = lazy_exports(
    __name__,
    {
        "address": "Address default_address parse resolve",
        "client": "DaemonClient",
        "policy": "RestartPolicy",
        "service": "Daemon DaemonOptions",
        "server": "Server",
        "runner": "run",
    },
)

__all__ = [
    "Address",
    "Daemon",
    "DaemonClient",
    "DaemonOptions",
    "RestartPolicy",
    "Server",
    "default_address",
    "parse",
    "resolve",
    "run",
]
