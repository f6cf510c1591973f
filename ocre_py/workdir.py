"""Where the Linux runtime keeps its state (``<workdir>/images``, ``<workdir>/containers``).

Precedence (spec D9): ``$OCRE_HOME``; root → ``/var/lib/ocre``; otherwise ``$XDG_DATA_HOME/ocre`` or
``~/.local/share/ocre``. The compiled-module cache follows ``$OCRE_CACHE_DIR``, then
``$XDG_CACHE_HOME/ocre``, then ``~/.cache/ocre``.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_workdir() -> tuple[Path, str]:
    """The default working directory and where that choice came from."""
    if os.environ.get("OCRE_HOME"):
        return Path(os.environ["OCRE_HOME"]), "$OCRE_HOME"
    if os.geteuid() == 0:
        return Path("/var/lib/ocre"), "root default"
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "ocre", "$XDG_DATA_HOME"
    return Path.home() / ".local" / "share" / "ocre", "user default"


def cache_dir() -> Path:
    if os.environ.get("OCRE_CACHE_DIR"):
        return Path(os.environ["OCRE_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ocre"
