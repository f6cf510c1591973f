"""``west ocre monitor``: the board's serial console (west has none)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ocre_py.cli import exit_codes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "monitor",
        help="serial console: auto-detected port, reconnect after reset, timestamps, log, exit on regex",
        description="Show a board's serial console; Ctrl-C ends it.",
    )
    p.add_argument("port", nargs="?", metavar="PORT", help="serial port (default: auto-detect)")
    p.add_argument(
        "-b", "--board", metavar="BOARD", help="the board on the port (checked against the database)"
    )
    p.add_argument("--baud", type=int, default=115200, metavar="BAUD", help="baud rate (115200)")
    p.add_argument("-t", "--timestamps", action="store_true", help="prefix each line with the time")
    p.add_argument("--log", type=Path, metavar="FILE", help="also append the console to FILE")
    p.add_argument("--exit-on", metavar="REGEX", help="exit 0 when a line matches")
    p.add_argument("--timeout", metavar="SECONDS", help="give up after this long (exit 1 with --exit-on)")
    p.add_argument("--no-reconnect", action="store_true", help="exit when the port goes away")
    p.add_argument("--list-ports", action="store_true", help="list candidate ports and exit")
    p.add_argument("--json", action="store_true", help="with --list-ports: JSON")
    p.set_defaults(func=cmd_monitor)


def cmd_monitor(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json
    from ocre_py.units import parse_duration
    from ocre_py.zephyr.board.database import lookup_board
    from ocre_py.zephyr.emulate.monitor import Monitor, choose_port, detect_ports

    if args.board:  # `-b` is the board everywhere (west's habit); an unknown one fails with a guess
        lookup_board(args.board)

    if args.list_ports:
        ports = detect_ports()
        if args.json:
            print_json(ports)
        else:
            sys.stdout.write("".join(p + "\n" for p in ports))
        return exit_codes.SUCCESS

    def show(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    monitor = Monitor(
        choose_port(args.port),
        args.baud,
        exit_on=args.exit_on,
        timeout=parse_duration(args.timeout, what="--timeout") if args.timeout else None,
        timestamps=args.timestamps,
        log_file=args.log,
        reconnect=not args.no_reconnect,
        on_line=show,
    )
    try:
        result = monitor.run()
    except KeyboardInterrupt:
        return exit_codes.SUCCESS
    if args.exit_on and not result.matched:
        sys.stderr.write(f"ocre: error: {result.reason}\n")
        return exit_codes.FAILURE
    return exit_codes.SUCCESS
