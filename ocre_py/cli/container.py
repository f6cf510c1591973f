"""``ocre container VERB`` and the short forms ``ocre ps|rm|logs|create|start|stop|...``: the daemon's CLI.

Every verb talks to the daemon (``-H``/``$OCRE_HOST``, default ``<workdir>/ocre.sock``). Output
follows upstream Ocre: IDs one per line, ``wait`` prints the exit code, ``ps`` prints
``ID\\tSTATUS\\tIMAGE`` with the 7-character labels; ``ps --wide`` adds Docker-like columns and every
listing has ``--json``. A verb given several IDs handles each, reports each failure, and exits 1 if
any failed (Docker's habit).
"""

from __future__ import annotations

import sys
import time

from ocre_py.cli import exit_codes
from ocre_py.cli.container_options import add_container_options, add_daemon_container_options, create_request
from ocre_py.cli.daemon_client import add_client_options, client_for
from ocre_py.cli.run import add_run_parser

TYPE_CHECKING = False  # the client verbs import neither typing nor argparse (issue 14)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

SHORT_FORMS = (
    "create",
    "start",
    "stop",
    "kill",
    "pause",
    "unpause",
    "restart",
    "wait",
    "ps",
    "rm",
    "logs",
    "inspect",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("container", help="manage the daemon's containers")
    verbs = group.add_subparsers(dest="container_command", metavar="VERB", required=True)
    add_run_parser(verbs, "run")
    for name in SHORT_FORMS:
        _VERBS[name](verbs, name)
    for name in SHORT_FORMS:
        _VERBS[name](sub, name)


def add_verb(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    """Declare only the short form ``name`` (see :data:`ocre_py.cli.main.FAST_VERBS`)."""
    _VERBS[name](sub, name)


# ---- helpers ----------------------------------------------------------------------------------
def _ids(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="ID")


def _each(args: argparse.Namespace, fn: Callable[[Any, str], str | None]) -> int:
    """Apply ``fn(client, id)`` to every ID; print what it returns; report failures and go on."""
    from ocre_py.errors import OcreError

    client = client_for(args)
    worst = exit_codes.SUCCESS
    for cid in args.ids:
        try:
            out = fn(client, cid)
        except OcreError as exc:
            if len(args.ids) == 1:
                raise
            sys.stderr.write(f"ocre: error: {exc.message}\n")
            worst = max(worst, exc.exit_code)
            continue
        if out is not None:
            sys.stdout.write(f"{out}\n")
    return worst


# ---- verbs ------------------------------------------------------------------------------------
def _add_create(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="create a container under the daemon (CREATED; prints its ID)")
    p.add_argument("--rm", action="store_true", help="the daemon removes it (and its data) once it has run")
    add_daemon_container_options(p)
    add_container_options(p)
    p.set_defaults(func=cmd_create)


def cmd_create(args: argparse.Namespace) -> int:
    client = client_for(args)
    sys.stdout.write(f"{client.create(create_request(args, client))['id']}\n")
    return exit_codes.SUCCESS


def _add_simple(action: str, help_text: str, *, timed: bool = False) -> Callable[..., None]:
    def add(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
        p = sub.add_parser(name, help=help_text)
        if timed:
            p.add_argument(
                "-t", "--time", default="10", metavar="SECONDS", help="grace before kill (default 10)"
            )
        _ids(p)
        add_client_options(p)
        p.set_defaults(func=lambda args: _cmd_action(args, action))

    return add


def _cmd_action(args: argparse.Namespace, action: str) -> int:
    query: dict[str, Any] = {}
    if hasattr(args, "time"):
        from ocre_py.units import parse_duration

        query["time"] = 0.0 if args.time in ("0", "0s") else parse_duration(args.time, what="--time")
    return _each(args, lambda client, cid: client.action(cid, action, **query)["id"])


def _add_wait(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="wait for containers to exit; print each exit code")
    p.add_argument("--timeout", metavar="SECONDS", help="give up after this long")
    _ids(p)
    add_client_options(p)
    p.set_defaults(func=cmd_wait)


def cmd_wait(args: argparse.Namespace) -> int:
    from ocre_py.units import parse_duration

    timeout = parse_duration(args.timeout, what="--timeout") if args.timeout else None

    def wait(client: Any, cid: str) -> str:
        code = client.action(cid, "wait", timeout=timeout)["exit_code"]
        return "" if code is None else f"{code:d}"

    return _each(args, wait)


def _add_rm(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="remove containers and their data directories")
    p.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    _ids(p)
    add_client_options(p)
    p.set_defaults(func=cmd_rm)


def cmd_rm(args: argparse.Namespace) -> int:
    def rm(client: Any, cid: str) -> str:
        client.remove(cid, force=args.force)
        return cid

    return _each(args, rm)


def _add_ps(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="list running containers (-a: all): ID, STATUS, IMAGE")
    p.add_argument("id", nargs="?", metavar="ID", help="only this container (in any state)")
    p.add_argument("-a", "--all", action="store_true", help="all containers, also created and stopped")
    p.add_argument("-q", "--quiet", dest="ids_only", action="store_true", help="only IDs")
    p.add_argument("-w", "--wide", action="store_true", help="add exit code, restarts, policy, age")
    p.add_argument("--json", action="store_true")
    add_client_options(p)
    p.set_defaults(func=cmd_ps)


def cmd_ps(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json, print_table

    client = client_for(args)
    rows = [client.inspect(args.id)] if args.id else client.containers()
    if not (args.id or args.all):  # Docker's habit: running (and paused, restarting) only
        rows = [r for r in rows if r["status"] in ("RUNNING", "PAUSED") or r.get("restarting")]
    if args.json:
        print_json(rows)
    elif args.ids_only:
        for r in rows:
            sys.stdout.write(f"{r['id']}\n")
    elif args.wide:
        now = time.time()
        table = [
            (
                r["id"],
                _status_text(r, now),
                r["image"],
                "" if r["exit_code"] is None else r["exit_code"],
                r["restart_count"],
                r["restart_policy"],
                _ago(r["created_at"], now),
            )
            for r in rows
        ]
        print_table(["ID", "STATUS", "IMAGE", "EXIT", "RESTARTS", "POLICY", "CREATED"], table)
    else:
        # Upstream's 7-character labels (ContainerState.label), without importing the runtime.
        labels = [(r["id"], r["status"].ljust(7), r["image"]) for r in rows]
        print_table(["ID", "STATUS", "IMAGE"], labels, sep="\t")
    return exit_codes.SUCCESS


def _status_text(row: dict[str, Any], now: float) -> str:
    status = row["status"]
    if row.get("restarting"):
        return "RESTARTING"
    if status in ("RUNNING", "PAUSED") and row.get("started_at"):
        return f"{status} ({_duration(now - row['started_at'])})"
    if status == "STOPPED" and row.get("exit_code") is not None:
        return f"STOPPED ({row['exit_code']})"
    return status


def _duration(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s}s"
        if s < 60
        else f"{s // 60}m"
        if s < 3600
        else f"{s // 3600}h"
        if s < 86400
        else f"{s // 86400}d"
    )


def _ago(ts: float | None, now: float) -> str:
    return f"{_duration(now - ts)} ago" if ts else ""


def _add_logs(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="print a container's output (stdout and stderr)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing while the container runs")
    p.add_argument("-n", "--tail", type=int, metavar="N", help="only the last N lines")
    p.add_argument("id", metavar="ID")
    add_client_options(p)
    p.set_defaults(func=cmd_logs)


def cmd_logs(args: argparse.Namespace) -> int:
    out = sys.stdout.buffer
    sys.stdout.flush()
    for chunk in client_for(args).logs(args.id, follow=args.follow, tail=args.tail):
        out.write(chunk)
        out.flush()
    return exit_codes.SUCCESS


def _add_inspect(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    p = sub.add_parser(name, help="show containers (or images of that name) in detail (JSON)")
    _ids(p)
    p.add_argument("--json", action="store_true", help="(the default; accepted for uniformity)")
    add_client_options(p)
    p.set_defaults(func=cmd_inspect)


def cmd_inspect(args: argparse.Namespace) -> int:
    from ocre_py.cli.image import image_details
    from ocre_py.cli.output import print_json
    from ocre_py.errors import DaemonError, InvalidInput, NotFound, OcreError

    client, rows = None, []
    for ref in args.ids:
        try:
            client = client or client_for(args)
            rows.append(client.inspect(ref))
        except (NotFound, InvalidInput, DaemonError) as exc:  # Docker's habit: else an image of that name
            try:
                rows.append(image_details(ref))
            except OcreError:
                raise exc from None
    print_json(rows)
    return exit_codes.SUCCESS


_VERBS: dict[str, Callable[..., None]] = {
    "create": _add_create,
    "start": _add_simple("start", "start created or stopped containers"),
    "stop": _add_simple("stop", "stop containers: a stop event, then kill after --time", timed=True),
    "kill": _add_simple("kill", "kill running containers (exit code 137)"),
    "pause": _add_simple("pause", "hold containers at their next host call"),
    "unpause": _add_simple("unpause", "let paused containers continue"),
    "restart": _add_simple("restart", "stop (if running) and start containers again", timed=True),
    "wait": _add_wait,
    "ps": _add_ps,
    "rm": _add_rm,
    "logs": _add_logs,
    "inspect": _add_inspect,
}
