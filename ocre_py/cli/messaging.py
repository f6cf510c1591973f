"""``ocre publish`` / ``ocre subscribe``: host tools talk to the daemon's containers by topic.

Messages follow the containers' rules (spec 2.5): a subscription receives every topic it is a
prefix of. ``publish`` fails (exit 1) when no container or host subscriber matches. ``subscribe``
says on stderr once the daemon has registered it, so a script (or a reader) knows when publishing
reaches it: ``ocre subscribe sensor/ &`` then ``ocre publish sensor/temp 21.5``.

With ``--broker`` both talk to the fleet bus instead of a daemon (``ocre_py.fleet.bus``): the
message reaches every member that bridges its topic, and ``subscribe`` prints what members bridge,
in the same format.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ocre_py.cli import exit_codes
from ocre_py.cli.daemon_client import add_client_options, client_for

if TYPE_CHECKING:
    from ocre_py.fleet.broker import BrokerOptions


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("publish", help="publish a message to the daemon's containers")
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument("payload", metavar="PAYLOAD", help="message text ('-' reads stdin)")
    p.add_argument(
        "--content-type", default="text/plain", metavar="TYPE", help="MIME type (default text/plain)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_client_options(p)
    add_bus_options(p)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("subscribe", help="print messages whose topic starts with TOPIC")
    p.add_argument("topic", metavar="TOPIC", help="topic prefix ('' for everything)")
    p.add_argument("-n", "--count", type=int, metavar="N", help="exit after N messages")
    p.add_argument("--json", action="store_true", help="one JSON object per message")
    add_client_options(p)
    add_bus_options(p)
    p.set_defaults(func=cmd_subscribe)


def add_bus_options(p: argparse.ArgumentParser) -> None:
    from ocre_py.cli.fleet_options import FLEET_NAME_DEFAULT

    p.add_argument(
        "--broker",
        metavar="URL",
        help="use the fleet bus on this MQTT broker (mqtt[s]://HOST[:PORT]) instead of a daemon",
    )
    p.add_argument(
        "--fleet",
        metavar="NAME",
        help=f"the fleet, with --broker ({FLEET_NAME_DEFAULT})",
    )


def bus_target(args: argparse.Namespace) -> tuple[BrokerOptions, str] | None:
    """``(BrokerOptions, fleet)`` with ``--broker``; None for the daemon. ``--fleet`` alone is a
    mistake (it would silently go to the daemon)."""
    from ocre_py.errors import InvalidInput

    if not args.broker:
        if args.fleet:
            raise InvalidInput("--fleet needs --broker URL (the fleet bus is on a broker)")
        return None
    if args.host:
        raise InvalidInput("give either -H (a daemon) or --broker (the fleet bus), not both")
    from ocre_py.fleet.broker import broker_from_env, fleet_name

    return broker_from_env(args.broker), fleet_name(args.fleet)


def cmd_publish(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json
    from ocre_py.errors import ContainerError

    bus = bus_target(args)
    if bus is not None:
        from ocre_py.fleet import bus as fleet_bus
        from ocre_py.fleet.protocol import MAX_BUS_PAYLOAD

        options, fleet = bus
        # one byte over the bound is enough to refuse it: stdin is never read without limit
        stdin = sys.stdin.buffer.read(MAX_BUS_PAYLOAD + 1) if args.payload == "-" else None
        payload = stdin if stdin is not None else args.payload.encode()
        published = fleet_bus.publish(options, fleet, args.topic, payload, args.content_type)
        if args.json:
            print_json({"rc": 0, "delivered": True, **published})
        return exit_codes.SUCCESS
    payload = sys.stdin.buffer.read() if args.payload == "-" else args.payload.encode()
    result = client_for(args).publish(args.topic, payload, args.content_type)
    if args.json:
        print_json(result)
    if not result["delivered"]:
        import errno

        code = -int(result["rc"])
        if code == errno.ENOENT:
            raise ContainerError(
                f"no subscriber for topic '{args.topic}'",
                hint="containers subscribe with ocre_subscribe_message (needs -k ocre:api)",
            )
        raise ContainerError(f"publishing to '{args.topic}' failed: {errno.errorcode.get(code, code)}")
    return exit_codes.SUCCESS


def cmd_subscribe(args: argparse.Namespace) -> int:
    import json

    if args.count is not None and args.count < 1:
        from ocre_py.errors import InvalidInput

        raise InvalidInput.field(None, "--count", args.count, "a positive number")
    out = sys.stdout
    bus = bus_target(args)
    if bus is not None:
        from ocre_py.fleet import bus as fleet_bus

        options, fleet = bus
        messages = fleet_bus.subscribe(options, fleet, args.topic, count=args.count)
    else:
        messages = client_for(args).subscribe(args.topic, count=args.count)
    for message in messages:
        if not message:  # the "subscribed" marker: say so, as nats sub and redis-cli do
            what = f"topics starting with '{args.topic}'" if args.topic else "every topic"
            sys.stderr.write(f"subscribed to {what}\n")
            sys.stderr.flush()
            continue
        if args.json:
            out.write(json.dumps(message, sort_keys=True) + "\n")
        else:
            out.write(f"{message['topic']} [{message['content_type']}]: {message['payload']}\n")
        out.flush()
    return exit_codes.SUCCESS
