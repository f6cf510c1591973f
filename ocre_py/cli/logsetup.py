"""The CLI's logging: ``ocre: <level>: <message>`` on stderr, at ``--debug``/``-q``'s level.

A module of its own so the start-up path imports :mod:`logging` only when :func:`configure` runs:
:mod:`~ocre_py.cli.main` calls it before every handler but the daemon's client verbs, which call it
themselves before they enter library code that logs (an in-process run, a store image).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def configure(args: argparse.Namespace) -> None:
    """Send the ``ocre_py`` loggers to stderr, at the level ``args.debug``/``args.quiet`` pick."""
    import logging

    class Formatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"ocre: {record.levelname.lower()}: {record.getMessage()}"

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Formatter())
    root = logging.getLogger("ocre_py")
    root.handlers[:] = [handler]
    debug, quiet = getattr(args, "debug", False), getattr(args, "quiet", False)
    root.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING)
    root.propagate = False
