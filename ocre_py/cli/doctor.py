"""``ocre doctor``: check a workdir, its image store and (optionally) a partition image.

Exit status: 0 when nothing is left to fix, 1 otherwise, so scripts and field devices can run
``ocre doctor --repair`` at boot and act on the result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ocre_py.cli import exit_codes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check (and repair) a workdir, its image store and a partition image")
    p.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="the Ocre workdir (default: $OCRE_HOME or the user default)",
    )
    p.add_argument("--store", type=Path, metavar="DIR", help="the image store (default: WORKDIR/store)")
    p.add_argument("--partition", type=Path, metavar="FILE", help="also check this storage-partition image")
    p.add_argument(
        "--block-size", metavar="SIZE", help="the partition's erase block (default: from its superblock)"
    )
    p.add_argument(
        "--repair", action="store_true", help="remove debris and drop entries whose blobs are gone"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json
    from ocre_py.doctor import diagnose
    from ocre_py.units import parse_size
    from ocre_py.workdir import default_workdir

    workdir = args.workdir or default_workdir()[0]
    block = parse_size(args.block_size, what="--block-size") if args.block_size else None
    report = diagnose(
        workdir, store=args.store, partition=args.partition, block_size=block, repair=args.repair
    )
    if args.json:
        print_json(report.to_dict())
    else:
        for what in report.checked:
            sys.stdout.write(f"checked {what}\n")
        for f in report.findings:
            line = f"{f.severity}: {f.path}: {f.problem}"
            if f.repaired:
                line += f" -> repaired: {f.repaired}"
            sys.stdout.write(line + "\n")
        if report.ok:
            sys.stdout.write("ok: nothing to fix\n")
        else:
            advice = "" if args.repair else " (run with --repair to fix what can be fixed)"
            sys.stdout.write(f"{len(report.unrepaired)} problem(s) left{advice}\n")
    return exit_codes.SUCCESS if report.ok else exit_codes.FAILURE
