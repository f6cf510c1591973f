"""``ocre`` entry point: one exception boundary and the table of command modules.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)``; its handlers take the parsed
``argparse.Namespace`` and return an exit code. Command modules import the library lazily, inside
their handlers, so ``ocre run`` does not pay for jinja2, west or pyelftools at start-up.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shlex
import subprocess
import sys
from collections.abc import Sequence
from typing import NoReturn

from ocre_py.cli import exit_codes
from ocre_py.errors import OcreError

#: Command modules, in the order their verbs appear in ``ocre --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "ocre_py.cli.run",
    "ocre_py.cli.container",
    "ocre_py.cli.daemon",
    "ocre_py.cli.fleet",
    "ocre_py.cli.messaging",
    "ocre_py.cli.device",
    "ocre_py.cli.build",
    "ocre_py.cli.image",
    "ocre_py.cli.version",
    "ocre_py.cli.doctor",
    "ocre_py.cli.zephyr",
)

#: Verbs whose start-up time matters: only their module is imported and registered.
FAST_VERBS: dict[str, str] = {
    "run": "ocre_py.cli.run",
    # The daemon's client verbs (``ocre ps`` against a running daemon is a start-up benchmark).
    **dict.fromkeys(
        ("ps", "logs", "wait", "start", "stop", "kill", "rm", "inspect", "create", "container"),
        "ocre_py.cli.container",
    ),
}

log = logging.getLogger("ocre_py")


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``ocre: error: <message>`` and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(exit_codes.USAGE, f"{self.prog}: error: {_suggest(message)}\n")


def _suggest(message: str) -> str:
    """argparse's ``invalid choice: 'pss' (choose from ...)`` → ``... (did you mean 'ps'?)``."""
    import re

    from ocre_py.names import did_you_mean

    m = re.search(r"invalid choice: '([^']*)' (\(choose from (.*)\))$", message)
    hint = did_you_mean(m.group(1), re.findall(r"'([^']*)'", m.group(3))) if m else None
    return f"{message[: m.start(2)]}({hint})" if m and hint else message


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (``only``) one with just that command module's verbs."""
    parser = _ArgumentParser(
        prog="ocre",
        description="Build, package, deploy and run WebAssembly containers on Zephyr MCUs and Linux.",
    )
    parser.add_argument("--debug", action="store_true", help="show debug logs and full tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show errors")
    parser.add_argument("--version", action="store_true", help="show the version and exit")
    parser.add_argument(
        "-H", "--host", dest="global_host", metavar="ADDR", help="daemon address for the verb (as its -H)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    for name in (only,) if only else COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"ocre: {record.levelname.lower()}: {record.getMessage()}"


def _setup_logging(debug: bool, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("ocre_py")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING)
    root.propagate = False


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _error(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"ocre: error: {_one_line(message)}\n")
    if hint:
        sys.stderr.write(f"ocre: hint: {_one_line(hint)}\n")


def _verb(argv: Sequence[str]) -> str | None:
    """The verb: the first word that is not an option or the value of a global ``-H``."""
    words = iter(argv)
    for word in words:
        if word in ("-H", "--host"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``ocre`` command and return its exit code (never raises, never exits)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = _verb(argv)
    parser = build_parser(FAST_VERBS.get(verb or ""))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help or a usage error
        return int(exc.code or 0)
    if args.version:
        from ocre_py.cli.version import version_info

        info = version_info()
        sys.stdout.write(f"Ocre version {info['version']}, commit {info['commit']}\n")
        return exit_codes.SUCCESS
    if args.global_host:  # `ocre -H ADDR VERB` is `ocre VERB -H ADDR` (Docker's habit)
        if not hasattr(args, "host"):
            _error(f"-H/--host before '{verb}': that verb does not talk to a daemon")
            return exit_codes.USAGE
        args.host = args.host or args.global_host
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return exit_codes.USAGE
    _setup_logging(args.debug, args.quiet)
    try:
        return int(args.func(args) or 0)
    except OcreError as exc:
        _error(exc.message, exc.hint)
        return exc.exit_code
    except subprocess.CalledProcessError as exc:
        cmd = exc.cmd if isinstance(exc.cmd, str) else shlex.join(map(str, exc.cmd))
        _error(f"command failed with exit code {exc.returncode}: {cmd}")
        return exc.returncode or exit_codes.FAILURE
    except BrokenPipeError:
        return exit_codes.SUCCESS
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return exit_codes.FAILURE


def console() -> NoReturn:
    """The ``ocre`` console script."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(code)
