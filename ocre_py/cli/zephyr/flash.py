"""``ocre zephyr flash`` / ``west ocre flash``: west flash with the board's runner, or pyocd directly."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "flash",
        help="flash a built firmware (west flash, or pyocd with --pyocd)",
        description=(
            "Forward to 'west flash' with the board's runner (-r overrides), or program through pyocd "
            "(--pyocd: target and pack from the board database, sector erase). Runner arguments go "
            "after '--'."
        ),
    )
    p.add_argument("-d", "--build-dir", default="build", help="build directory (default: build)")
    p.add_argument("-r", "--runner", help="west flash runner (default: the board's first runner)")
    p.add_argument("--domain", help="sysbuild domain")
    p.add_argument("--skip-rebuild", action="store_true", help="do not rebuild before flashing")
    p.add_argument("--file", help="hex/bin/elf to flash instead of the build's (kind from the suffix)")
    for kind in ("hex", "elf", "bin"):  # west flash's spellings
        p.add_argument(f"--{kind}-file", metavar="FILE", help=f"a .{kind} to flash (as 'west flash')")
    p.add_argument("--pyocd", action="store_true", help="program through pyocd directly")
    p.add_argument("--target", help="pyocd target (default: the board's)")
    p.add_argument("--pack", help="CMSIS pack file for pyocd (e.g. Keil.STM32U5xx_DFP.pack)")
    p.add_argument("--probe", help="pyocd probe unique id")
    p.add_argument("--address", help="load address for a .bin (default: flash base)")
    p.add_argument("--dry-run", action="store_true", help="print what would run")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("runner_args", nargs="*", metavar="-- RUNNER_ARGS", help="passed to the runner")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from ocre_py.cli.output import print_json
    from ocre_py.zephyr.deploy.west_flash import FlashRequest, flash
    from ocre_py.zephyr.project.workspace import context_from_args

    given = [(k, f) for k in ("hex", "elf", "bin") if (f := getattr(args, f"{k}_file"))]
    if len(given) + bool(args.file) > 1:
        from ocre_py.errors import InvalidInput

        raise InvalidInput("give one of --file, --hex-file, --elf-file, --bin-file")
    kind, file = given[0] if given else (None, args.file)
    request = FlashRequest(
        build_dir=Path(args.build_dir),
        runner=args.runner,
        use_pyocd=args.pyocd,
        pyocd_target=args.target,
        pack=args.pack,
        probe=args.probe,
        file=Path(file) if file else None,
        file_kind=kind,
        address=int(args.address, 0) if args.address else None,
        domain=args.domain,
        skip_rebuild=args.skip_rebuild,
        runner_args=list(args.runner_args),
        dry_run=args.dry_run,
    )
    result = flash(request, context_from_args(args))
    if args.json:
        print_json(result.__dict__)
    elif args.dry_run:
        if result.command:
            sys.stdout.write(f"command: {shlex.join(result.command)}\n")
        else:
            sys.stdout.write(f"pyocd: program {result.file} on target {result.target}\n")
    else:
        sys.stdout.write(f"flashed {result.file or args.build_dir} via {result.method}\n")
    return 0
