"""``west ocre run``: boot a build (or any Cortex-M ELF) in QEMU or native_sim and check its console."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ocre_py.cli import exit_codes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run firmware in QEMU or native_sim with the storage attached; check the console",
        description=(
            "Run the build's firmware (QEMU machine from the board data, or native_sim's zephyr.exe) "
            "with the storage partition attached, stream the UART, and exit 0 once every --expect regex "
            "matched in order."
        ),
    )
    p.add_argument("-d", "--build-dir", type=Path, metavar="DIR", help="Zephyr build directory")
    p.add_argument(
        "--elf", type=Path, metavar="FILE", help="run this ELF instead of a build's (needs -b/--machine)"
    )
    p.add_argument("-b", "--board", metavar="BOARD", help="board target (its QEMU machine and storage)")
    p.add_argument("--machine", metavar="MACHINE", help="QEMU machine, overriding the board's")
    p.add_argument("--cpu", metavar="CPU", help="QEMU CPU, overriding the board's")
    p.add_argument("--expect", action="append", default=[], metavar="REGEX", help="console regex, in order")
    p.add_argument("--timeout", metavar="SECONDS", help="give up after this long (default: none)")
    p.add_argument(
        "--storage", type=Path, metavar="FILE", help="storage image (default: <build>/ocre/storage.bin)"
    )
    p.add_argument(
        "--storage-addr", metavar="ADDR", help="where QEMU loads the storage image (default: geometry)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON (console goes to stderr)")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json
    from ocre_py.units import parse_duration
    from ocre_py.zephyr.emulate.simulate import RunPlan, plan_run

    timeout = parse_duration(args.timeout, what="--timeout") if args.timeout else None
    storage_addr = int(args.storage_addr, 0) if args.storage_addr else None
    plan: RunPlan = plan_run(
        build_dir=args.build_dir,
        elf=args.elf,
        board=args.board,
        machine=args.machine,
        cpu=args.cpu,
        storage=args.storage,
        storage_addr=storage_addr,
    )
    stream = sys.stderr if args.json else sys.stdout

    def show(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    result = plan.run(expect=args.expect, timeout=timeout, on_line=show)
    if args.json:
        print_json(result.to_dict())
    if not result.ok:
        sys.stderr.write(f"ocre: error: {result.reason}\n")
        return exit_codes.FAILURE
    return exit_codes.SUCCESS
