"""``ocre zephyr init`` / ``west ocre init``: generate a free-standing Ocre firmware app."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "init",
        help="generate an Ocre firmware app (also builds with plain 'west build')",
        description="Render a Zephyr application embedding WAMR + Ocre from templates/zephyr_app.",
    )
    p.add_argument("dir", metavar="DIR", help="directory to create")
    p.add_argument(
        "-b", "--board", default="native_sim/native/64", help="board (default: native_sim/native/64)"
    )
    p.add_argument("--force", action="store_true", help="write into a non-empty directory")
    p.add_argument("--json", action="store_true", help="print the generated files as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ocre_py.cli.output import print_json
    from ocre_py.zephyr.board.database import lookup_board
    from ocre_py.zephyr.firmware.appgen import generate_app

    board = lookup_board(args.board)
    result = generate_app(Path(args.dir), board, force=args.force)
    if args.json:
        print_json({"app": str(result.app_dir), "board": board.name, "files": [str(f) for f in result.files]})
    else:
        sys.stdout.write(f"created {result.app_dir} for {board.name} ({len(result.files)} files)\n")
        sys.stdout.write(f"next: west ocre build -b {board.name} {result.app_dir}\n")
    return 0
