"""``ocre`` entry point: one exception boundary and the table of command modules.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)``; its handlers take the parsed
``argparse.Namespace`` and return an exit code. Command modules import the library lazily, inside
their handlers, so ``ocre run`` does not pay for jinja2, west or pyelftools at start-up.

Start-up (issue 14): the daemon's client verbs (:data:`FAST_VERBS`) are read by
:mod:`~ocre_py.cli.fastparse` from their own ``add_argument`` declarations, without argparse.
argparse parses everything else, and a client verb's ``--help`` and usage errors — with that one
verb's parser; an unknown verb gets every verb's, for "did you mean". Logging is configured before
the handler runs, except for the client verbs: they stay clear of :mod:`logging` (~12 ms to import)
unless ``--debug``/``-q`` asks for it or they reach library code that logs
(:func:`~ocre_py.cli.logsetup.configure`).
"""

from __future__ import annotations

import importlib
import sys

from ocre_py.cli import exit_codes, logsetup
from ocre_py.errors import OcreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any, NoReturn

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

_CLIENT_VERBS = ("ps", "logs", "wait", "start", "stop", "kill", "rm", "inspect", "create")
#: Verbs whose start-up time matters, and their module, which declares each one with
#: ``add_verb(subparsers, name)`` (``ocre ps`` against a running daemon is a start-up benchmark).
FAST_VERBS: dict[str, str] = {
    "run": "ocre_py.cli.run",
    **dict.fromkeys((*_CLIENT_VERBS, "pause", "unpause", "restart"), "ocre_py.cli.container"),
}


def add_global_options(parser: Any) -> None:
    """The options before the verb (on argparse's parser, or a :class:`~.fastparse.Command`)."""
    parser.add_argument("--debug", action="store_true", help="show debug logs and full tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show errors")
    parser.add_argument("--version", action="store_true", help="show the version and exit")
    parser.add_argument(
        "-H", "--host", dest="global_host", metavar="ADDR", help="daemon address for the verb (as its -H)"
    )


def _suggest(message: str) -> str:
    """argparse's ``invalid choice: 'pss' (choose from ...)`` → ``... (did you mean 'ps'?)``."""
    import re

    from ocre_py.names import did_you_mean

    m = re.search(r"invalid choice: '([^']*)' (\(choose from (.*)\))$", message)
    hint = did_you_mean(m.group(1), re.findall(r"'([^']*)'", m.group(3))) if m else None
    return f"{message[: m.start(2)]}({hint})" if m and hint else message


def build_parser(only: str | None = None, verb: str | None = None) -> argparse.ArgumentParser:
    """The full parser; or (``only``) one with just that command module's verbs; or (``verb`` as
    well) with just that one verb of the module."""
    import argparse

    class ArgumentParser(argparse.ArgumentParser):
        """argparse with one-line errors: ``ocre: error: <message>`` and exit code 2."""

        def error(self, message: str) -> NoReturn:
            self.exit(exit_codes.USAGE, f"{self.prog}: error: {_suggest(message)}\n")

    parser = ArgumentParser(
        prog="ocre",
        description="Build, package, deploy and run WebAssembly containers on Zephyr MCUs and Linux.",
    )
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in (only,) if only else COMMAND_MODULES:
        module = importlib.import_module(name)
        if verb is None:
            module.register(sub)
        else:
            module.add_verb(sub, verb)
    return parser


def fast_parse(argv: Sequence[str], verb: str) -> Any:
    """What argparse would make of a plain command line of a fast verb, or None (see fastparse)."""
    from ocre_py.cli import fastparse

    top, verbs = fastparse.Command(), fastparse.Recorder()
    add_global_options(top)
    importlib.import_module(FAST_VERBS[verb]).add_verb(verbs, verb)
    return fastparse.parse(argv, top, verbs)


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
    fast = verb if verb in FAST_VERBS else None
    args = fast_parse(argv, fast) if fast else None
    parser = None
    if args is None:
        if fast and {"-h", "--help"} & set(argv[: argv.index(fast)]):
            parser = build_parser()  # `ocre --help ps`: the help of `ocre`, every verb
        else:
            parser = build_parser(FAST_VERBS.get(verb or ""), fast)
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
        assert parser is not None  # a fast verb always has its handler
        parser.print_help(sys.stderr)
        return exit_codes.USAGE
    if not fast or args.debug or args.quiet:
        logsetup.configure(args)
    try:
        return int(args.func(args) or 0)
    except OcreError as exc:
        _error(exc.message, exc.hint)
        return exc.exit_code
    except BrokenPipeError:
        return exit_codes.SUCCESS
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED
    except Exception as exc:
        failed = _failed_command(exc)
        if failed is not None:
            _error(failed[0])
            return failed[1]
        if args.debug:
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return exit_codes.FAILURE


def _failed_command(exc: Exception) -> tuple[str, int] | None:
    """A failed subprocess: its quoted command and exit code. :mod:`subprocess` is looked at only
    once something imported it, since before that nothing can have raised its error."""
    subprocess = sys.modules.get("subprocess")
    if subprocess is None or not isinstance(exc, subprocess.CalledProcessError):
        return None
    import shlex

    cmd = exc.cmd if isinstance(exc.cmd, str) else shlex.join(map(str, exc.cmd))
    return f"command failed with exit code {exc.returncode}: {cmd}", exc.returncode or exit_codes.FAILURE


def console() -> NoReturn:
    """The ``ocre`` console script."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.exit(code)
