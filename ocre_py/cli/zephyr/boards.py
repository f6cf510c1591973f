"""``ocre zephyr boards`` / ``west ocre boards``: the board database as a table or JSON."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "boards",
        help="list the boards Ocre firmware can be built for",
        description="List supported boards: flash, RAM, storage partition, runners, QEMU machine.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json, print_table
    from ocre_py.units import format_size
    from ocre_py.zephyr.board.database import all_boards

    boards = all_boards()
    if args.json:
        print_json([b.to_dict() for b in boards])
        return 0
    rows = []
    for b in boards:
        s = b.storage[b.default_medium]
        rows.append(
            [
                b.name,
                b.soc,
                format_size(b.flash.size),
                format_size(b.ram) if b.ram else "host",
                f"{s.medium}/{s.style} {format_size(s.size)}",
                b.default_runner or (f"qemu {b.qemu_machine}" if b.qemu_machine else "-"),
                "" if b.upstream else "out-of-tree",
            ]
        )
    print_table(["BOARD", "SOC", "FLASH", "RAM", "STORAGE", "RUNNER", "NOTE"], rows)
    return 0
