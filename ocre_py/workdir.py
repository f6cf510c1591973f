"""Where the Linux runtime keeps its state (``<workdir>/images``, ``<workdir>/containers``).

Precedence (spec D9): ``$OCRE_HOME``; root → ``/var/lib/ocre``; otherwise ``$XDG_DATA_HOME/ocre`` or
``~/.local/share/ocre``. The compiled-module cache follows ``$OCRE_CACHE_DIR``, then
``$XDG_CACHE_HOME/ocre``, then ``~/.cache/ocre``.

:func:`workdir_text` is the same choice as a string: a client command (``ocre ps``) needs only the
socket path in it, and :mod:`pathlib` costs ~7 ms of start-up (issue 14).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def workdir_text() -> tuple[str, str]:
    """The default working directory (a string) and where that choice came from."""
    if os.environ.get("OCRE_HOME"):
        return os.environ["OCRE_HOME"], "$OCRE_HOME"
    if os.geteuid() == 0:
        return "/var/lib/ocre", "root default"
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return os.path.join(xdg, "ocre"), "$XDG_DATA_HOME"
    return os.path.join(os.path.expanduser("~"), ".local", "share", "ocre"), "user default"


def default_workdir() -> tuple[Path, str]:
    """The default working directory and where that choice came from."""
    from pathlib import Path

    where, origin = workdir_text()
    return Path(where), origin


def cache_dir() -> Path:
    from pathlib import Path

    if os.environ.get("OCRE_CACHE_DIR"):
        return Path(os.environ["OCRE_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ocre"
