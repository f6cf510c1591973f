"""Rendering helpers for command handlers: tables, JSON, and progress that is quiet in pipes.

``ocre ps`` prints through here, so the module imports neither :mod:`json` nor :mod:`typing` until
something needs them (issue 14, start-up).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any


def print_json(obj: Any) -> None:
    import json

    json.dump(obj, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, sep: str | None = None) -> None:
    """Print a table; ``sep='\\t'`` keeps upstream Ocre's tab-separated format, else columns align."""
    rows = [[str(c) for c in r] for r in rows]
    if sep is not None:
        sys.stdout.write(sep.join(headers) + "\n")
        for r in rows:
            sys.stdout.write(sep.join(r) + "\n")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for line in [list(headers), *rows]:
        sys.stdout.write("   ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)).rstrip() + "\n")


class Progress:
    """A progress bar on a TTY (rich), nothing in a pipe; called as the library's
    :data:`ocre_py.progress.Progress` ``(done, total)``."""

    def __init__(self, description: str, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._task: Any = None
        self.description = description

    def __enter__(self) -> Callable[[int, int], None]:
        if self.enabled:
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(transient=True, console=None)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=1.0)
        return self.update

    def update(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done / total if total else 1.0)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
