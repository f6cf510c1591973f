"""``ocre zephyr build`` / ``west ocre build``: west build's flags plus Ocre's rendering and checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: west build flags passed through unchanged: (flags, argparse kwargs).
_PASSTHROUGH: list[tuple[tuple[str, ...], dict[str, object]]] = [
    (("-S", "--snippet"), {"action": "append", "metavar": "SNIPPET", "help": "snippet (repeatable)"}),
    (("--shield",), {"action": "append", "metavar": "SHIELD", "help": "shield (repeatable)"}),
    (
        ("-t", "--target"),
        {"metavar": "TARGET", "help": "build system target (run, menuconfig, rom_report...)"},
    ),
    (("-o", "--build-opt"), {"action": "append", "metavar": "OPT", "help": "option for ninja/make"}),
    (("-c", "--cmake"), {"action": "store_true", "help": "force a CMake run"}),
    (("--cmake-only",), {"action": "store_true", "help": "only run CMake"}),
    (("-n", "--just-print"), {"action": "store_true", "help": "west build's own dry run (-n)"}),
    (("-f", "--force"), {"action": "store_true", "help": "ignore west build's own checks"}),
    (("--sysbuild",), {"action": "store_true", "help": "build with sysbuild"}),
    (("--no-sysbuild",), {"action": "store_true", "help": "build without sysbuild"}),
    (("--domain",), {"metavar": "DOMAIN", "help": "sysbuild domain to build"}),
]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "build",
        help="build Zephyr firmware with WAMR + Ocre for a board",
        description=(
            "Resolve the board, render a Kconfig fragment and a devicetree overlay (storage partition, "
            "littlefs at /lfs, Ocre options from ocre.yml) into BUILD_DIR/ocre/, check the RAM/flash "
            "budget, then run 'python -m west build'. APP defaults to the current directory if it "
            "holds CMakeLists.txt, else the toolkit's zephyr_app/. Put APP and '-- CMAKE_ARGS' last."
        ),
    )
    add_build_arguments(p)
    p.set_defaults(func=run)


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    """Every build option, written once (shared by other commands that build first)."""
    p.add_argument("-b", "--board", help="board target, e.g. nucleo_u585 or mps2/an521/cpu0")
    p.add_argument("-d", "--build-dir", help="build directory (default: build.dir-fmt or 'build')")
    p.add_argument(
        "-p", "--pristine", nargs="?", const="always", choices=["auto", "always", "never"],
        help="pristine build: auto, always (bare -p) or never (default: build.pristine)",
    )  # fmt: skip
    for flags, kwargs in _PASSTHROUGH:
        p.add_argument(*flags, **kwargs)  # type: ignore[arg-type]
    p.add_argument("--extra-conf", action="append", default=[], metavar="FILE", help="extra Kconfig fragment")
    p.add_argument(
        "--extra-dtc-overlay", action="append", default=[], metavar="FILE", help="extra devicetree overlay"
    )
    p.add_argument("--config", metavar="OCRE_YML", help="project config (default: APP/ocre.yml if present)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the command and generated files; run nothing"
    )
    p.add_argument("--ignore-budget", action="store_true", help="build even if the RAM/flash estimate fails")
    p.add_argument(
        "--profile", choices=["full", "tiny"], default=None,
        help="full (default: WAMR + Ocre core + LittleFS) or tiny (WAMR only, containers in a flash bundle, "
        "fits 64 KB-RAM boards such as qemu_cortex_m3; docs/tiny.md); default: ocre.yml 'profile'",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="[APP] [-- CMAKE_ARGS]", help=argparse.SUPPRESS)


def west_args_from(args: argparse.Namespace) -> list[str]:
    """The pass-through west build flags, rebuilt in a fixed order from the parsed namespace."""
    out: list[str] = []
    for s in args.snippet or []:
        out += ["-S", s]
    for s in args.shield or []:
        out += ["--shield", s]
    if args.target:
        out += ["-t", args.target]
    for o in args.build_opt or []:
        out += ["-o", o]
    for flag, name in (
        ("-c", "cmake"), ("--cmake-only", "cmake_only"), ("-n", "just_print"), ("-f", "force"),
        ("--sysbuild", "sysbuild"), ("--no-sysbuild", "no_sysbuild"),
    ):  # fmt: skip
        if getattr(args, name):
            out.append(flag)
    if args.domain:
        out += ["--domain", args.domain]
    return out


def request_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ocre_py.errors import InvalidInput
    from ocre_py.zephyr.firmware.build import BuildRequest, split_passthrough

    before, cmake = split_passthrough(args.rest or [])
    if len(before) > 1 or (before and before[0].startswith("-")):
        raise InvalidInput.field(
            None, "arguments", " ".join(before), "[APP] [-- CMAKE_ARGS] after the options"
        )
    return BuildRequest(
        board=args.board,
        build_dir=Path(args.build_dir) if args.build_dir else None,
        pristine=args.pristine,
        app=Path(before[0]) if before else None,
        config_path=Path(args.config) if args.config else None,
        west_args=west_args_from(args),
        extra_conf=[str(Path(f).resolve()) for f in args.extra_conf],
        extra_dtc_overlay=[str(Path(f).resolve()) for f in args.extra_dtc_overlay],
        cmake_args=cmake,
        dry_run=args.dry_run,
        ignore_budget=args.ignore_budget,
        profile=getattr(args, "profile", None),
    )


def run(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json
    from ocre_py.zephyr.firmware.build import build
    from ocre_py.zephyr.project.workspace import context_from_args

    request = request_from_args(args)
    plan = build(request, context_from_args(args))
    tiny_table = next((text for path, text in plan.files.items() if path.name == "tiny-budget.txt"), None)
    if tiny_table and not args.json and not request.dry_run:
        sys.stdout.write(tiny_table)  # the tiny profile's flash/RAM table (ocre_py.zephyr.tiny)
    if not request.dry_run:
        return 0
    if args.json:
        print_json(plan.to_dict())
        return 0
    out = sys.stdout
    out.write(f"board: {plan.target} (from {plan.board_origin})\n")
    b = plan.budget
    ram_cap = f"{b.ram_capacity}" if b.ram_capacity is not None else "host"
    rom_cap = f"{b.rom_capacity}" if b.rom_capacity is not None else "host"
    out.write(f"budget: ram {b.ram_total}/{ram_cap} bytes, flash {b.rom_total}/{rom_cap} bytes (estimates)\n")
    if plan.wipe_build_dir:
        out.write(f"pristine: would empty {plan.build_dir}\n")
    for path, text in plan.files.items():
        out.write(f"--- {path}\n{text}")
    out.write(f"command: {plan.command_line}\n")
    return 0
