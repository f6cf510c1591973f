"""``ocre build``: compile C sources into a container module with the SDK."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("build", help="compile C sources into a WebAssembly container")
    p.add_argument("sources", nargs="+", metavar="SRC.c", help="C source files")
    p.add_argument("-o", "--output", required=True, metavar="NAME.wasm", help="output module")
    p.add_argument("-O", dest="opt", default="2", choices=["0", "1", "2", "3", "s", "z"], help="optimisation")
    p.add_argument("--stack", metavar="SIZE", help="stack size (e.g. 8K)")
    p.add_argument("--memory-max", metavar="SIZE", help="maximum linear memory, whole 64 KiB pages")
    p.add_argument("--memory-initial", metavar="SIZE", help="initial linear memory, whole 64 KiB pages")
    p.add_argument("--import-memory", action="store_true", help="import env.memory like upstream SDK builds")
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR", help="include dir")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="NAME[=VALUE]", help="define")
    p.add_argument(
        "--tiny", action="store_true",
        help="tiny profile (64 KB-RAM MCUs): one page that WAMR shrinks to its used size (docs/tiny.md)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_build)


def cmd_build(args: argparse.Namespace) -> int:
    from ocre_py.sdk import BuildOptions, build_container
    from ocre_py.units import parse_size

    def size(value: str | None, what: str) -> int | None:
        return parse_size(value, what=what) if value else None

    options = BuildOptions(
        optimize=f"-O{args.opt}",
        stack_size=size(args.stack, "--stack"),
        memory_max=size(args.memory_max, "--memory-max"),
        memory_initial=size(args.memory_initial, "--memory-initial"),
        import_memory=args.import_memory,
        include_dirs=tuple(args.include),
        defines=tuple(args.define),
    )
    if getattr(args, "tiny", False):
        from ocre_py.sdk.tiny import TINY_STACK, build_tiny, tiny_options

        stack = options.stack_size or TINY_STACK
        result = build_tiny(args.sources, args.output, tiny_options(options, stack_size=stack))
    else:
        result = build_container(args.sources, args.output, options)
    if args.json:
        json.dump({"output": str(result.output), "size": result.size, "command": result.command}, sys.stdout)
        sys.stdout.write("\n")
    else:
        sys.stderr.write(f"built {result.output} ({result.size} bytes)\n")
    return 0
