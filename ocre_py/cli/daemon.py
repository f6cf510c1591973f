"""``ocre daemon``: run ocred, write its systemd unit, manage its flat image directory.

``ocre daemon [-H ADDR]...`` serves until SIGTERM/SIGINT. ``ocre daemon install-unit`` writes a
systemd unit. ``ocre daemon images ls|import|rm`` manage ``<workdir>/images`` of a (possibly
remote) daemon — the flat, device-style layout of spec section 6, apart from the OCI store that
``ocre image`` manages. Every daemon-facing verb takes the same ``-H``/``--token``/``--tls*``
options (:mod:`~ocre_py.cli.daemon_client`).
"""

from __future__ import annotations

import sys

from ocre_py.cli import exit_codes
from ocre_py.cli.daemon_client import add_client_options, client_for, upload_image

TYPE_CHECKING = False  # not typing's: the client verbs import this module (see ocre_py.cli.main)
if TYPE_CHECKING:
    import argparse
    from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pathlib import Path

    p = sub.add_parser(
        "daemon",
        help="run the Ocre daemon (ocred), or manage it",
        description="Without a VERB: run the daemon in the foreground until SIGTERM or SIGINT.",
    )
    p.add_argument(
        "-H",
        "--host",
        dest="listen",
        action="append",
        default=[],
        metavar="ADDR",
        help="listen on unix://PATH or tcp://HOST:PORT (repeatable; TCP needs the bearer token)",
    )
    p.add_argument("--group", help="make the Unix socket 0660 and owned by this group")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve TLS on TCP listeners: certificate")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="the certificate's private key (PEM)")
    p.add_argument(
        "--tls-ca",
        type=Path,
        metavar="FILE",
        help="require client certificates signed by this CA (mutual TLS)",
    )
    p.add_argument(
        "--log-file", type=Path, help="daemon log, JSON lines (default: <workdir>/logs/daemon.log)"
    )
    p.add_argument("--log-max-size", default="1M", metavar="SIZE", help="cap of each container log file")
    p.add_argument("--log-max-files", type=int, default=3, metavar="N", help="log files kept per container")
    p.add_argument("--shutdown-grace", default="5s", metavar="SECONDS", help="stop grace on shutdown")
    add_fleet_options(p)
    p.set_defaults(func=cmd_daemon)
    verbs = p.add_subparsers(dest="daemon_command", metavar="VERB")

    u = verbs.add_parser("install-unit", help="write a systemd unit for the daemon")
    u.add_argument("--user", action="store_true", help="a user unit (~/.config/systemd/user)")
    u.add_argument("-o", "--output", type=Path, help="write here (default: the systemd unit directory)")
    u.add_argument("--stdout", action="store_true", help="print the unit instead of writing it")
    u.add_argument("-H", "--host", dest="unit_hosts", action="append", default=[], metavar="ADDR")
    add_fleet_options(u)
    u.set_defaults(func=cmd_install_unit)

    i = verbs.add_parser("info", help="the daemon's address, working directory, containers and memory")
    add_client_options(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    images = verbs.add_parser("images", help="the daemon's image directory (<workdir>/images)")
    iverbs = images.add_subparsers(dest="images_command", metavar="VERB", required=True)
    ls = iverbs.add_parser("ls", help="list images: SHA-256, SIZE, NAME (upstream's format)")
    ls.add_argument("name", nargs="?", help="only this image")
    ls.add_argument("--json", action="store_true")
    add_client_options(ls)
    ls.set_defaults(func=cmd_images_ls)
    imp = iverbs.add_parser("import", help="copy a .wasm file (or an image of the local store) to the daemon")
    imp.add_argument("source", help="FILE.wasm, or NAME[:TAG] of the local image store")
    imp.add_argument("name", nargs="?", help="image name on the daemon (default: the file name)")
    imp.add_argument("--json", action="store_true")
    add_client_options(imp)
    imp.set_defaults(func=cmd_images_import)
    rm = iverbs.add_parser("rm", help="remove images from the daemon")
    rm.add_argument("names", nargs="+", metavar="NAME")
    rm.add_argument("-f", "--force", action="store_true", help="even if containers use it")
    add_client_options(rm)
    rm.set_defaults(func=cmd_images_rm)


def add_fleet_options(p: argparse.ArgumentParser) -> None:
    """``--fleet`` and friends: the daemon joins a fleet as a member (docs/fleet.md)."""
    from ocre_py.cli.fleet_options import FLEET_NAME_DEFAULT

    g = p.add_argument_group("fleet membership (docs/fleet.md)")
    g.add_argument("--fleet", metavar="URL", help="join the fleet on this MQTT broker: mqtt[s]://HOST[:PORT]")
    g.add_argument("--device-id", metavar="ID", help="this daemon's name in the fleet (needed with --fleet)")
    g.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="K=V",
        help="a label deployments select on (repeatable)",
    )
    g.add_argument("--fleet-name", metavar="NAME", help=f"the fleet on the broker ({FLEET_NAME_DEFAULT})")
    g.add_argument("--fleet-ca", metavar="FILE", help="CA certificates of an mqtts:// broker (PEM)")
    g.add_argument("--fleet-cert", metavar="FILE", help="this device's client certificate (PEM)")
    g.add_argument("--fleet-key", metavar="FILE", help="the client certificate's private key (PEM)")
    g.add_argument(
        "--fleet-username", metavar="NAME", help="broker user name (the password: $OCRE_FLEET_PASSWORD)"
    )


#: The daemon's fleet options other than ``--fleet`` (args attributes): each needs ``--fleet``.
FLEET_FLAGS = ("device_id", "label", "fleet_name", "fleet_ca", "fleet_cert", "fleet_key", "fleet_username")


def fleet_config(args: argparse.Namespace) -> Any:
    """The ``MemberConfig`` that ``--fleet`` and friends ask for (checked now, before the daemon
    starts or a unit is written), or None without ``--fleet``."""
    if not getattr(args, "fleet", None):
        for flag in FLEET_FLAGS:
            if getattr(args, flag, None):
                from ocre_py.errors import InvalidInput

                raise InvalidInput(f"--{flag.replace('_', '-')} needs --fleet mqtt://HOST[:PORT]")
        return None
    from ocre_py.fleet.member import MemberConfig

    return MemberConfig.from_options(
        args.fleet,
        args.device_id,
        args.label,
        args.fleet_name,
        ca=args.fleet_ca,
        cert=args.fleet_cert,
        key=args.fleet_key,
        username=args.fleet_username,
    )


def fleet_member(args: argparse.Namespace) -> Any:
    """The fleet member ``--fleet`` asks for, or None."""
    config = fleet_config(args)
    if config is None:
        return None
    from ocre_py.fleet.member import Member

    return Member(config)


# ---- serving ----------------------------------------------------------------------------------
def cmd_daemon(args: argparse.Namespace) -> int:
    import grp
    import logging
    import logging.handlers
    import signal
    import threading

    from ocre_py.daemon import DaemonOptions, parse, resolve, run
    from ocre_py.daemon.jsonlog import JsonFormatter
    from ocre_py.daemon.tls import server_context
    from ocre_py.errors import InvalidInput
    from ocre_py.units import parse_duration, parse_size
    from ocre_py.workdir import default_workdir

    workdir = default_workdir()[0]
    addresses = [parse(h) for h in args.listen] or [resolve(None, workdir)[0]]
    options = DaemonOptions(
        log_max_bytes=parse_size(args.log_max_size, what="--log-max-size"),
        log_max_files=args.log_max_files,
        shutdown_grace=parse_duration(args.shutdown_grace, what="--shutdown-grace"),
    )
    tls = server_context(args.tls_cert, args.tls_key, args.tls_ca)
    if args.log_max_files < 1:
        raise InvalidInput.field(None, "--log-max-files", args.log_max_files, "at least 1")
    member = fleet_member(args)
    group = None
    if args.group:
        try:
            group = grp.getgrnam(args.group).gr_gid
        except KeyError:
            raise InvalidInput.field(None, "--group", args.group, "an existing group name") from None

    log_file = args.log_file or workdir / "logs" / "daemon.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    formatter = JsonFormatter()
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(log_file, maxBytes=5 * 1024 * 1024, backupCount=3),
        logging.StreamHandler(sys.stderr),
    ]
    for h in handlers:
        h.setFormatter(formatter)
    root = logging.getLogger("ocre_py")
    previous_handlers = root.handlers[:]
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO)

    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {
        s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        run(
            workdir,
            addresses,
            stop,
            options=options,
            socket_mode=0o660 if group is not None else 0o600,
            socket_group=group,
            tls=tls,
            ready=(lambda daemon, _server: member.start(daemon)) if member else None,
            stopping=member.close if member else None,
        )
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        root.handlers[:] = previous_handlers
        for h in handlers:
            h.close()
    return exit_codes.SUCCESS


def cmd_install_unit(args: argparse.Namespace) -> int:
    from ocre_py.daemon import parse, unit
    from ocre_py.fsutil import atomic_write

    for h in args.unit_hosts:
        parse(h)
    config = fleet_config(args)
    fleet_args = config.to_args() if config is not None else []
    text = unit.render(hosts=args.unit_hosts, user=args.user, fleet_args=fleet_args)
    if config is not None and config.broker.username:
        sys.stderr.write(
            f"the broker password is not in the unit: put OCRE_FLEET_PASSWORD=... in "
            f"{unit.env_file(args.user)} (mode 0600)\n"
        )
    if args.stdout:
        sys.stdout.write(text)
        return exit_codes.SUCCESS
    target = args.output or (unit.user_dir() if args.user else unit.SYSTEM_DIR) / unit.UNIT_NAME
    try:
        atomic_write(target, text, perms=0o644)
    except PermissionError:
        from ocre_py.errors import OcreError

        raise OcreError(
            f"cannot write {target}: permission denied", hint="run it as root, or use --user / -o FILE"
        ) from None
    scope = "--user " if args.user else ""
    sys.stdout.write(f"{target}\n")
    sys.stderr.write(
        f"enable it with: systemctl {scope}daemon-reload && systemctl {scope}enable --now ocre\n"
    )
    return exit_codes.SUCCESS


def cmd_info(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json
    from ocre_py.units import format_size

    client = client_for(args)
    info = client.info()
    info["address"] = str(client.address)
    if args.json:
        print_json(info)
        return exit_codes.SUCCESS
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(info["states"].items())) or "none"
    sys.stdout.write(
        f"Address:     {info['address']}\nVersion:     {info['version']} (API {info['api']})\n"
        f"PID:         {info['pid']}\nWorkdir:     {info['workdir']}\n"
        f"Containers:  {info['containers']} ({states})\nImages:      {info['images']}\n"
        f"Memory:      {format_size(info['rss_bytes'])} RSS\n"
    )
    return exit_codes.SUCCESS


# ---- the daemon's image directory -------------------------------------------------------------
def cmd_images_ls(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json

    images = client_for(args).images()
    if args.name:
        images = [i for i in images if i["name"] == args.name]
        if not images:
            from ocre_py.errors import NotFound

            raise NotFound(f"no such image: {args.name}")
    if args.json:
        print_json(images)
        return exit_codes.SUCCESS
    # Upstream's header: SHA-256 padded by 9 tabs to the width of a hash, then SIZE and NAME.
    sys.stdout.write("SHA-256" + "\t" * 9 + "SIZE\tNAME\n")
    for i in images:
        sys.stdout.write(f"{i['sha256']}\t{i['size']}\t{i['name']}\n")
    return exit_codes.SUCCESS


def cmd_images_import(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json

    result = upload_image(client_for(args), args.source, args.name)
    if args.json:
        print_json(result)
    else:
        sys.stdout.write(f"{result['name']}\n")
        sys.stderr.write(f"Digest: {result['sha256']}\n")
    return exit_codes.SUCCESS


def cmd_images_rm(args: argparse.Namespace) -> int:
    client = client_for(args)
    for name in args.names:
        client.remove_image(name, force=args.force)
        sys.stdout.write(f"{name}\n")
    return exit_codes.SUCCESS
