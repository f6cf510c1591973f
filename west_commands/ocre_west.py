"""``west ocre``: the thin west skin over ``ocre_py`` (as thin as Zephyr's ``west flash``).

The parser is built by :func:`ocre_py.cli.zephyr.add_zephyr_subcommands` (the same registration
functions ``ocre zephyr`` uses), the handler is the same function, and this class only adds what
west owns: the workspace context, log routing to ``self.inf/wrn/err`` and ``die`` on errors.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from west.commands import Verbosity, WestCommand

# The toolkit checkout this extension lives in wins over any installed copy, so `west ocre` always
# runs the library (and zephyr_app/, templates/) of the manifest repository it was loaded from.
_CHECKOUT = Path(__file__).resolve().parents[1]
if (_CHECKOUT / "ocre_py" / "__init__.py").is_file() and str(_CHECKOUT) not in sys.path:
    sys.path.insert(0, str(_CHECKOUT))

from ocre_py.cli.zephyr import DESCRIPTION, add_zephyr_subcommands  # noqa: E402


class _WestLogHandler(logging.Handler):
    """Route the library's log records to the west command's output methods."""

    def __init__(self, cmd: WestCommand) -> None:
        super().__init__()
        self.cmd = cmd

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if record.levelno >= logging.ERROR:
            self.cmd.err(msg)
        elif record.levelno >= logging.WARNING:
            self.cmd.wrn(msg)
        elif record.levelno >= logging.INFO:
            self.cmd.inf(msg)
        else:
            self.cmd.dbg(msg)


class Ocre(WestCommand):
    def __init__(self) -> None:
        super().__init__(
            "ocre",
            "generate, build and flash Zephyr firmware with WAMR + Ocre",
            DESCRIPTION,
            accepts_unknown_args=False,
            requires_workspace=True,
        )

    def do_add_parser(self, parser_adder):  # type: ignore[no-untyped-def]
        parser = parser_adder.add_parser(
            self.name,
            help=self.help,
            description=self.description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_zephyr_subcommands(parser)
        return parser

    def do_run(self, args: argparse.Namespace, unknown: list[str]) -> None:
        from ocre_py.errors import OcreError
        from ocre_py.zephyr.project.workspace import WestContext

        if not getattr(args, "func", None):
            self.die("missing subcommand: try 'west ocre -h'", exit_code=2)
        base = os.environ.get("ZEPHYR_BASE")
        config = self.config
        args.west = WestContext(
            topdir=Path(self.topdir) if self.topdir else None,
            get_config=lambda key: config.get(key),
            zephyr_base=Path(base) if base else None,
        )
        logger = logging.getLogger("ocre_py")
        logger.handlers[:] = [_WestLogHandler(self)]
        logger.setLevel(logging.DEBUG if self.verbosity >= Verbosity.DBG else logging.INFO)
        logger.propagate = False
        try:
            code = int(args.func(args) or 0)
        except OcreError as exc:
            self.err(exc.message)
            if exc.hint:
                print(f"hint: {exc.hint}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except subprocess.CalledProcessError as exc:
            cmd = exc.cmd if isinstance(exc.cmd, str) else shlex.join(map(str, exc.cmd))
            self.die(f"command failed with exit code {exc.returncode}: {cmd}", exit_code=exc.returncode or 1)
        if code:
            sys.exit(code)
