"""The options every ``ocre fleet`` verb, ``ocre fleet ui`` and the bus tools take to reach a fleet's
broker, and how they resolve: one place, imported by each skin (no fleet module at parse time)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocre_py.fleet.broker import BrokerOptions


#: How ``--fleet NAME`` (``--fleet-name`` for the daemon) defaults, in every command's help:
#: ``fleet.broker.fleet_name`` resolves it (``DEFAULT_FLEET``, ``FLEET_NAME_ENV``). The parsers do
#: not import the fleet modules, so the CLI starts fast; tests/fleet hold this text to them.
FLEET_NAME_DEFAULT = "default: $OCRE_FLEET_NAME, else 'default'"


def add_broker_options(p: argparse.ArgumentParser) -> None:
    """The options every fleet verb takes to reach the broker (``ocre fleet ui`` too)."""
    p.add_argument("--broker", metavar="URL", help="mqtt[s]://HOST[:PORT] (default: $OCRE_FLEET)")
    p.add_argument("--fleet", metavar="NAME", help=f"the fleet on the broker ({FLEET_NAME_DEFAULT})")
    p.add_argument(
        "--ca", metavar="FILE", help="CA certificates of an mqtts:// broker (default: $OCRE_FLEET_CA)"
    )
    p.add_argument("--cert", metavar="FILE", help="client certificate (PEM; default: $OCRE_FLEET_CERT)")
    p.add_argument("--key", metavar="FILE", help="its private key (PEM; default: $OCRE_FLEET_KEY)")
    p.add_argument(
        "--username",
        metavar="NAME",
        help="broker user (default: $OCRE_FLEET_USERNAME; password: $OCRE_FLEET_PASSWORD)",
    )


def broker_target(args: argparse.Namespace) -> tuple[BrokerOptions, str]:
    """The broker options and the fleet name from :func:`add_broker_options`' options (each falling
    back on its environment variable), checked: a bad URL or name is one line and exit 2."""
    from dataclasses import replace

    from ocre_py.fleet.broker import broker_from_env, fleet_name

    options = broker_from_env(args.broker)
    options = replace(
        options,
        ca=args.ca or options.ca,
        cert=args.cert or options.cert,
        key=args.key or options.key,
        username=args.username or options.username,
    )
    options.parts  # noqa: B018 (checks the URL now, before anything connects)
    return options, fleet_name(args.fleet)
