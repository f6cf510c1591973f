"""``ocre zephyr ...``: the Zephyr command group, shared verbatim with ``west ocre ...``.

How to add a subcommand (other rooms do this without touching anything else here): write a module
with ``register(subparsers)`` that calls ``subparsers.add_parser(NAME, help=..., description=...)``,
adds its arguments and sets ``func=handler`` via ``set_defaults``; append the module path to
:data:`ZEPHYR_COMMAND_MODULES`. The handler receives the ``argparse.Namespace`` and returns an exit
code; it may read ``args.west`` (a :class:`ocre_py.zephyr.project.workspace.WestContext`, present in both
skins) for the workspace, west config and ``ZEPHYR_BASE``. A subcommand that accepts trailing
pass-through arguments (like ``build -- -DFOO=1``) declares them with ``nargs='*'`` positionals.

The west extension (``west_commands/ocre_west.py``) builds its parser from the same ``register``
functions, so ``west ocre X`` ≡ ``ocre zephyr X`` by construction.
"""

from __future__ import annotations

import argparse
import importlib

#: Subcommand modules, in ``--help`` order. Each has ``register(subparsers)``.
ZEPHYR_COMMAND_MODULES: tuple[str, ...] = (
    "ocre_py.cli.zephyr.boards",
    "ocre_py.cli.zephyr.init",
    "ocre_py.cli.zephyr.build",
    "ocre_py.cli.zephyr.footprint",
    "ocre_py.cli.zephyr.flash",
    "ocre_py.cli.zephyr.deploy",
    "ocre_py.cli.zephyr.run",
    "ocre_py.cli.zephyr.monitor",
    "ocre_py.cli.zephyr.test",
)

DESCRIPTION = (
    "Generate, configure, build and flash Zephyr firmware that embeds WAMR and the Ocre core. "
    "The same commands run as 'west ocre ...' inside a west workspace."
)


def add_zephyr_subcommands(parser: argparse.ArgumentParser, **subparser_kwargs: object) -> None:
    """Add every registered subcommand to ``parser`` (used by ``ocre zephyr`` and ``west ocre``)."""
    sub = parser.add_subparsers(dest="zephyr_command", metavar="COMMAND", **subparser_kwargs)  # type: ignore[call-overload]
    for name in ZEPHYR_COMMAND_MODULES:
        importlib.import_module(name).register(sub)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "zephyr", help="build and flash Zephyr firmware with Ocre (also 'west ocre')", description=DESCRIPTION
    )
    add_zephyr_subcommands(parser, parser_class=type(parser))
    parser.set_defaults(func=_no_subcommand(parser))


def _no_subcommand(parser: argparse.ArgumentParser):  # type: ignore[no-untyped-def]
    def handler(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return handler
