"""``ocre run`` attached through a running daemon: create, start, stream the output, wait.

Docker's client–daemon model: when a daemon is reachable (``-H``, ``$OCRE_HOST``, the default
socket), an attached ``ocre run`` is a client — it imports no engine and the daemon's compiled
module cache makes the start cheap. ``--local``, or no daemon, keeps the in-process run. The
container's stdout and stderr (one log on the daemon's side) are written to stdout as they come;
Ctrl-C kills the container; ``--rm`` removes it afterwards, as ``docker run --rm`` does.
"""

from __future__ import annotations

import os
import sys

from ocre_py.cli import exit_codes
from ocre_py.cli.container_options import create_request
from ocre_py.cli.daemon_client import client_for

TYPE_CHECKING = False  # not typing's: see ocre_py.cli.main (start-up)
if TYPE_CHECKING:
    import argparse

    from ocre_py.daemon.client import DaemonClient


def reachable_daemon(args: argparse.Namespace) -> DaemonClient | None:
    """The daemon an attached run should use, or None for an in-process run.

    ``--local`` never asks; ``-H`` must be reachable (its error is raised); ``$OCRE_HOST`` and the
    default socket are used when a daemon answers there, else the run stays in this process.
    """
    from ocre_py.daemon.address import resolve
    from ocre_py.errors import DaemonError

    if getattr(args, "local", False):
        return None
    address, _origin = resolve(args.host)
    if args.host is None and address.kind == "unix" and not (address.path and os.path.exists(address.path)):
        return None  # no socket file: no daemon, and no connection attempt
    client = client_for(args)
    if args.host is not None:
        return client
    # a probe: a stale socket must not cost the retry window, which the run's calls get back after
    retry, client.connect_retry = client.connect_retry, 0.0
    try:
        client.version()
    except DaemonError as exc:
        import logging  # the in-process run that follows imports it anyway

        logging.getLogger(__name__).debug("no daemon (%s): running in this process", exc.message)
        return None
    client.connect_retry = retry
    return client


def run_attached(args: argparse.Namespace, client: DaemonClient) -> int:
    """Create the container on the daemon, start it attached, return its exit code."""
    request = create_request(args, client)
    request["mounts"] = [_absolute(m) for m in request["mounts"]]  # the daemon's cwd is not ours
    cid = client.create(request)["id"]
    out = sys.stdout.buffer
    sys.stdout.flush()
    interrupted = False
    try:
        for chunk in client.attach(cid, start=True):
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        interrupted = True
        client.action(cid, "kill")
    try:
        return _outcome(client, cid, interrupted)
    finally:
        if args.rm:  # one that never ran is not removed by its exit: remove it here
            _remove_if_there(client, cid)


def _remove_if_there(client: DaemonClient, cid: str) -> None:
    from ocre_py.errors import NotFound

    try:
        client.remove(cid, force=True)
    except NotFound:
        pass  # the daemon removed it when it ended


def _outcome(client: DaemonClient, cid: str, interrupted: bool) -> int:
    """The exit code as an in-process run reports it (a container that never ran: 125 and why)."""
    from ocre_py.errors import ContainerError

    try:
        code = client.action(cid, "wait")["exit_code"]
    except ContainerError as exc:
        sys.stderr.write(f"ocre: error: {exc.message}\n")
        return exit_codes.START_FAILED
    if interrupted:
        return exit_codes.INTERRUPTED
    return (code or 0) & 0xFF


def _absolute(mount: str) -> str:
    host, sep, guest = mount.partition(":")
    return f"{os.path.abspath(host)}{sep}{guest}" if sep else mount
