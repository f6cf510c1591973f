"""``ocre fleet ui``: serve the live fleet view (``ocre_py.fleet.view``) until Ctrl-C or SIGTERM.

``register(verbs)`` adds ``ui`` to the ``ocre fleet`` subcommands (``cli/fleet.py`` owns the
group). The page's URL is the one line on stdout, so a script can start the view on port 0 and
read where it went.
"""

from __future__ import annotations

import argparse
import sys

from ocre_py.cli import exit_codes


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ocre_py.cli.fleet_options import add_broker_options

    p = verbs.add_parser(
        "ui",
        help="serve a live web view of the fleet (devices, deployments, containers, bus)",
        description="Serve one page that shows the fleet live from the broker. No authentication: "
        "it listens on loopback unless --listen says otherwise (docs/fleet.md, 'The fleet view').",
    )
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        default="127.0.0.1:8080",
        help="where to serve the page (default 127.0.0.1:8080; port 0: any free port)",
    )
    add_broker_options(p)
    p.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    import signal
    import threading

    from ocre_py.cli.fleet_options import broker_target
    from ocre_py.fleet.view import FleetView, is_loopback, parse_listen

    host, port = parse_listen(args.listen)
    view = FleetView(*broker_target(args))
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        url = view.start(host, port)
        sys.stdout.write(url + "\n")
        sys.stdout.flush()
        if not is_loopback(host):
            sys.stderr.write(
                f"ocre: warning: the fleet view on {host} has no authentication: anyone who reaches "
                "it sees the fleet (put it behind a proxy with TLS and a login)\n"
            )
        while not stop.wait(1.0):
            pass
    finally:
        view.close()
        signal.signal(signal.SIGTERM, previous)
    return exit_codes.SUCCESS
