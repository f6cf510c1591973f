"""``west ocre test``: Twister on the Ocre app's integration platforms, summarised."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ocre_py.cli import exit_codes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "test",
        help="run 'west twister -T zephyr_app' on the integration platforms and summarise",
        description=(
            "Build and run the Ocre app's twister suites (QEMU, native_sim, or a board with --device-serial)."
        ),
    )
    p.add_argument("-p", "--platform", action="append", default=[], metavar="BOARD", help="instead of -G")
    p.add_argument(
        "-T", "--testsuite-root", type=Path, metavar="DIR", help="default: the repository's zephyr_app"
    )
    p.add_argument(
        "-O", "--outdir", type=Path, default=Path("twister-out"), metavar="DIR", help="twister-out"
    )
    p.add_argument("--device-serial", metavar="PORT", help="run on a connected board (flash with west)")
    p.add_argument("--report", type=Path, metavar="FILE", help="only summarise an existing twister.json")
    p.add_argument("--dry-run", action="store_true", help="print the twister command and exit")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("extra", nargs=argparse.REMAINDER, metavar="-- ARG", help="passed to twister")
    p.set_defaults(func=cmd_test)


def cmd_test(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json, print_table
    from ocre_py.zephyr.board.database import REPO_ROOT
    from ocre_py.zephyr.emulate import twister

    if args.report:
        summary = twister.summarize(args.report)
    else:
        app = args.testsuite_root or REPO_ROOT / "zephyr_app"
        board_root = app if any(app.glob("boards/*/*/board.yml")) else None
        extra = [a for a in args.extra if a != "--"]
        cmd = twister.twister_command(
            app,
            outdir=args.outdir,
            platforms=args.platform,
            board_root=board_root,
            device_serial=args.device_serial,
            extra=extra,
        )
        if args.dry_run:
            sys.stdout.write(shlex.join(cmd) + "\n")
            return exit_codes.SUCCESS
        if getattr(args, "west", None) is not None:
            args.west.require_zephyr()
        summary = twister.run_twister(cmd, outdir=args.outdir)
    if args.json:
        print_json(summary.to_dict())
    else:
        print_table(
            ["SUITE", "PLATFORM", "STATUS", "SECONDS", "REASON"],
            [[s.name, s.platform, s.status, f"{s.seconds:.1f}", s.reason] for s in summary.suites],
        )
        sys.stdout.write(f"{summary.passed} passed, {summary.failed} failed, {summary.skipped} skipped\n")
    return exit_codes.SUCCESS if summary.ok else exit_codes.FAILURE
