"""The west workspace around a command: topdir, west config, ``ZEPHYR_BASE``.

Both skins produce a :class:`WestContext`: ``west ocre`` from its ``WestCommand`` (west has already
read the config and exported ``ZEPHYR_BASE``), ``ocre zephyr`` by looking for ``.west/`` upwards
from the current directory. The library reads settings through it and never the global west config.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ocre_py.errors import BuildError
from ocre_py.zephyr.board.database import REPO_ROOT

log = logging.getLogger(__name__)

ConfigGetter = Callable[[str], "str | None"]


def _no_config(key: str) -> str | None:
    return None


@dataclass
class WestContext:
    """Where we are: workspace top dir (or None), a west-config reader and ``ZEPHYR_BASE``."""

    topdir: Path | None = None
    get_config: ConfigGetter = field(default=_no_config)
    zephyr_base: Path | None = None

    def config(self, key: str, default: str | None = None) -> str | None:
        value = self.get_config(key)
        return default if value is None else value

    def require_zephyr(self) -> Path:
        """``ZEPHYR_BASE`` or a one-line error that says how to get a workspace."""
        if self.zephyr_base and (self.zephyr_base / "VERSION").is_file():
            return self.zephyr_base
        problem = (  # west exports its guess (<topdir>/zephyr) even before zephyr is cloned
            f"ZEPHYR_BASE is {self.zephyr_base}, which has no VERSION file (zephyr not cloned?)"
            if self.zephyr_base
            else "ZEPHYR_BASE is not set and this workspace has no zephyr project"
        )
        raise BuildError(
            f"no Zephyr tree: {problem}",
            hint=(
                f"create a workspace with 'west init -l {REPO_ROOT} && west update' "
                "(or 'west init -m <url of this repository> WORKSPACE && cd WORKSPACE && west update'), "
                "or use --dry-run to see the command without building"
            ),
        )

    @classmethod
    def discover(cls, start: Path | None = None) -> WestContext:
        """For ``ocre zephyr``: find ``.west/`` upwards, read its config, take ``ZEPHYR_BASE``."""
        start = (start or Path.cwd()).resolve()
        topdir = next((d for d in (start, *start.parents) if (d / ".west").is_dir()), None)
        getter: ConfigGetter = _no_config
        if topdir is not None:
            from west.configuration import Configuration

            cfg = Configuration(topdir=topdir)
            getter = lambda key: cfg.get(key)  # noqa: E731
        base = os.environ.get("ZEPHYR_BASE") or getter("zephyr.base")
        zephyr_base = None
        if base:
            zephyr_base = Path(base) if Path(base).is_absolute() or topdir is None else topdir / base
        return cls(topdir=topdir, get_config=getter, zephyr_base=zephyr_base)


def context_from_args(args: object) -> WestContext:
    """The context a subcommand handler should use: the west one if present, else discovered."""
    ctx = getattr(args, "west", None)
    return ctx if isinstance(ctx, WestContext) else WestContext.discover()
