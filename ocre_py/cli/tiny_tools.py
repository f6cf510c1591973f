"""``python -m ocre_py.cli.tiny_tools build|bundle ...``: the tiny profile's build steps for CMake.

``zephyr_app/src/tiny/tiny.cmake`` runs these where the ``ocre`` console script may not be on PATH
(a west workspace's Python). They are thin skins over :func:`ocre_py.sdk.tiny.build_tiny` and
:class:`ocre_py.zephyr.storage.bundle.BundleWriter`, with the CLI's one-line errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ocre_py.errors import InvalidInput, OcreError


def _parser() -> argparse.ArgumentParser:
    from ocre_py.sdk.tiny import TINY_ARENA, TINY_STACK

    parser = argparse.ArgumentParser(prog="python -m ocre_py.cli.tiny_tools", description=__doc__)
    sub = parser.add_subparsers(dest="tool", required=True)
    build = sub.add_parser("build", help="compile a tiny container (as ocre build --tiny)")
    build.add_argument("sources", nargs="+")
    build.add_argument("-o", "--output", required=True)
    build.add_argument("--stack", type=int, default=TINY_STACK, help="C stack bytes (default %(default)s)")
    build.add_argument(
        "--arena", type=int, default=TINY_ARENA, help="malloc arena bytes (default %(default)s)"
    )
    bundle = sub.add_parser("bundle", help="pack or list a tiny-profile bundle")
    verbs = bundle.add_subparsers(dest="cmd", required=True)
    pack = verbs.add_parser("pack", help="pack .wasm files (name = file stem) into a bundle")
    pack.add_argument("-o", "--output", required=True)
    pack.add_argument("--max-size", type=lambda s: int(s, 0), default=None, help="partition size in bytes")
    pack.add_argument("--arg", action="append", default=[], help="argv entry for every container")
    pack.add_argument("-e", "--env", action="append", default=[], help="KEY=VALUE for every container")
    pack.add_argument("--ocre-api", action="store_true", help="grant the ocre:api capability")
    pack.add_argument("modules", nargs="+")
    ls = verbs.add_parser("list", help="validate a bundle and print its entries")
    ls.add_argument("bundle")
    return parser


def _build(args: argparse.Namespace) -> str:
    from ocre_py.sdk.tiny import build_tiny, tiny_options

    result = build_tiny(args.sources, args.output, tiny_options(stack_size=args.stack, arena_size=args.arena))
    return f"{result.output}: {result.size} bytes (tiny)"


def _bundle(args: argparse.Namespace) -> str:
    from ocre_py.zephyr.storage.bundle import FLAG_OCRE_API, BundleWriter, read_bundle_file

    if args.cmd == "list":
        return "\n".join(read_bundle_file(args.bundle).describe())
    writer = BundleWriter()
    for path in map(Path, args.modules):
        if not path.is_file():
            raise InvalidInput.field(None, "module file", str(path), "an existing .wasm file")
        flags = FLAG_OCRE_API if args.ocre_api else 0
        writer.add(
            path.stem.lower(), path.read_bytes(), args=args.arg, env=args.env, flags=flags, source=str(path)
        )
    size = writer.write(args.output, max_size=args.max_size)
    return f"{args.output}: {len(writer.entries)} container(s), {size} bytes"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        sys.stdout.write((_build(args) if args.tool == "build" else _bundle(args)) + "\n")
    except OcreError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
