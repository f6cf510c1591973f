"""``ocre fleet``: deploy to daemons that joined a fleet on an MQTT broker, and see what runs where.

``apply FILE [--wait]`` publishes deployments, ``ps`` lists each device's deployments, ``devices``
lists the members, ``rm NAME...`` removes deployments everywhere. The broker comes from
``--broker`` or ``$OCRE_FLEET``; the library (``ocre_py.fleet.control``) does the work.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocre_py.cli import exit_codes, fleet_ui
from ocre_py.cli.fleet_options import add_broker_options, broker_target

if TYPE_CHECKING:
    from collections.abc import Callable

    from ocre_py.fleet.observe import FleetWatch


def fleet_watch(args: argparse.Namespace) -> FleetWatch:
    """An unopened :class:`FleetWatch` from the broker options (use it in a ``with``)."""
    from ocre_py.fleet.observe import FleetWatch

    return FleetWatch(*broker_target(args))


def warn_bounds(watch: FleetWatch) -> None:
    """Say on stderr when the fleet holds more than a watch reads (what it shows is partial)."""
    if watch.refused:
        sys.stderr.write(
            f"ocre: warning: fleet '{watch.fleet}' has more than {watch.max_devices} devices or "
            f"{watch.max_deployments} deployments; {watch.refused} messages about the others were "
            "left out\n"
        )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fleet",
        help="deploy to a fleet of daemons through an MQTT broker",
        description="Daemons join with 'ocre daemon --fleet URL --device-id ID'; see docs/fleet.md.",
    )
    verbs = p.add_subparsers(dest="fleet_command", metavar="VERB", required=True)

    a = verbs.add_parser("apply", help="publish the deployments of a YAML file")
    a.add_argument("file", type=Path, metavar="FILE", help="one deployment, a list, or 'deployments: [...]'")
    a.add_argument("--wait", action="store_true", help="wait until every selected online device runs it")
    a.add_argument("--timeout", default="120s", metavar="SECONDS", help="longest --wait (default 120s)")
    a.add_argument("--json", action="store_true")
    add_broker_options(a)
    a.set_defaults(func=cmd_apply)

    ps = verbs.add_parser("ps", help="each device's deployments: container, state, digest")
    ps.add_argument("--json", action="store_true")
    add_broker_options(ps)
    ps.set_defaults(func=cmd_ps)

    d = verbs.add_parser("devices", help="the fleet's members: online, labels, containers, last seen")
    d.add_argument("--json", action="store_true")
    add_broker_options(d)
    d.set_defaults(func=cmd_devices)

    rm = verbs.add_parser("rm", help="remove deployments (every member removes its container)")
    rm.add_argument("names", nargs="+", metavar="NAME")
    add_broker_options(rm)
    rm.set_defaults(func=cmd_rm)

    fleet_ui.register(verbs)


def cmd_apply(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import Progress, print_json
    from ocre_py.fleet import control
    from ocre_py.fleet.deployfile import load_file, pin
    from ocre_py.units import parse_duration

    timeout = parse_duration(args.timeout, what="--timeout")
    deployments = [pin(d) for d in load_file(args.file)]
    with fleet_watch(args) as watch:
        warn_bounds(watch)
        applied = control.apply(watch, deployments)
        status = None
        if args.wait:
            with Progress("rolling out", enabled=None if not args.json else False) as bar:
                status = control.wait_rollout(watch, [a.deployment for a in applied], timeout, bar)
    if args.json:
        out: dict[str, Any] = {"deployments": [a.to_dict() for a in applied]}
        if status is not None:
            out["rollout"] = {"done": status.done, "total": status.total}
        print_json(out)
        return exit_codes.SUCCESS
    for a in applied:
        d = a.deployment
        batches = f", {len(d.plan)} batch{'es' if len(d.plan) != 1 else ''}" if d.plan else ""
        sys.stdout.write(f"{d.name}: {a.action} (generation {d.generation}{batches})\n")
    if status is not None:
        if status.total == 0:
            sys.stderr.write("no online device selects these deployments\n")
        else:
            sys.stderr.write(f"rolled out: {status.done} of {status.total} done\n")
    return exit_codes.SUCCESS


def _short(digest: object) -> str:
    return str(digest)[:19] if digest else "-"


def _listing(
    args: argparse.Namespace,
    rows_of: Callable[[FleetWatch], list[dict[str, Any]]],
    columns: tuple[str, ...],
    cells: Callable[[dict[str, Any]], tuple[object, ...]],
) -> int:
    """``ocre fleet ps`` and ``devices``: rows read from the fleet, as JSON or a table."""
    from ocre_py.cli.output import print_json, print_table

    with fleet_watch(args) as watch:
        rows = rows_of(watch)
    warn_bounds(watch)
    if args.json:
        print_json(rows)
    else:
        print_table(columns, [cells(r) for r in rows])
    return exit_codes.SUCCESS


def cmd_ps(args: argparse.Namespace) -> int:
    from ocre_py.fleet.control import ps_rows

    return _listing(
        args,
        ps_rows,
        ("DEVICE", "ONLINE", "DEPLOYMENT", "CONTAINER", "STATE", "DIGEST", "DETAIL"),
        lambda r: (
            r["device"],
            "yes" if r["online"] else "no",
            r["deployment"],
            r["container"] or "-",
            r["state"],
            _short(r["digest"]),
            (r["error"] or "")[:80],
        ),
    )


def _ago(ts: float | None) -> str:
    if ts is None:
        return "-"
    seconds = max(0.0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def cmd_devices(args: argparse.Namespace) -> int:
    from ocre_py.fleet.control import device_rows

    return _listing(
        args,
        device_rows,
        ("DEVICE", "ONLINE", "LABELS", "CONTAINERS", "LAST SEEN"),
        lambda r: (
            r["device"],
            "yes" if r["online"] else "no",
            ",".join(f"{k}={v}" for k, v in sorted(r["labels"].items())) or "-",
            r["containers"],
            _ago(r["last_seen"]),
        ),
    )


def cmd_rm(args: argparse.Namespace) -> int:
    from ocre_py.fleet.control import remove

    with fleet_watch(args) as watch:
        warn_bounds(watch)
        for name in remove(watch, args.names):
            sys.stdout.write(f"{name}\n")
    return exit_codes.SUCCESS
