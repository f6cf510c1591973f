"""``ocre publish`` / ``ocre subscribe``: host tools talk to the daemon's containers by topic.

Messages follow the containers' rules (spec 2.5): a subscription receives every topic it is a
prefix of. ``publish`` fails (exit 1) when no container or host subscriber matches.
"""

from __future__ import annotations

import argparse
import sys

from ocre_py.cli import exit_codes
from ocre_py.cli.daemon_client import add_client_options, client_for


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("publish", help="publish a message to the daemon's containers")
    p.add_argument("topic", metavar="TOPIC")
    p.add_argument("payload", metavar="PAYLOAD", help="message text ('-' reads stdin)")
    p.add_argument(
        "--content-type", default="text/plain", metavar="TYPE", help="MIME type (default text/plain)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_client_options(p)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("subscribe", help="print messages whose topic starts with TOPIC")
    p.add_argument("topic", metavar="TOPIC", help="topic prefix ('' for everything)")
    p.add_argument("-n", "--count", type=int, metavar="N", help="exit after N messages")
    p.add_argument("--json", action="store_true", help="one JSON object per message")
    add_client_options(p)
    p.set_defaults(func=cmd_subscribe)


def cmd_publish(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json
    from ocre_py.errors import ContainerError

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
    for message in client_for(args).subscribe(args.topic, count=args.count):
        if not message:
            continue  # the daemon's "subscribed" marker
        if args.json:
            out.write(json.dumps(message, sort_keys=True) + "\n")
        else:
            out.write(f"{message['topic']} [{message['content_type']}]: {message['payload']}\n")
        out.flush()
    return exit_codes.SUCCESS
