"""``ocre zephyr init``: render a free-standing Ocre firmware app from ``templates/zephyr_app``.

The result is a plain Zephyr application (builds with ``west build`` alone): the templates place
values chosen here (board data, defaults from :class:`OcreConfig`), the C glue is copied from
``zephyr_app/src`` so every app runs the same tested code, and board files come from
:mod:`ocre_py.zephyr.firmware.render` so the storage partition matches what ``west ocre build`` generates.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ocre_py.errors import Conflict, InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.zephyr.board.database import REPO_ROOT, Board
from ocre_py.zephyr.firmware.render import app_board_files, kconfig_settings, storage_layout
from ocre_py.zephyr.project.config import FEATURES, OcreConfig

log = logging.getLogger(__name__)

TEMPLATES = REPO_ROOT / "templates" / "zephyr_app"
APP_SOURCE = REPO_ROOT / "zephyr_app"
#: Files copied verbatim from zephyr_app/ (relative paths).
COPIED = ("src/main.c", "src/autostart.c", "src/autostart.h", "fstab.overlay", "Kconfig")
ZEPHYR_VERSION = "v4.4.0"


@dataclass
class InitResult:
    app_dir: Path
    files: list[Path]


def generate_app(
    app_dir: Path, board: Board, config: OcreConfig | None = None, *, force: bool = False
) -> InitResult:
    """Write the app into ``app_dir`` (must be absent or empty unless ``force``)."""
    import jinja2

    config = config or OcreConfig()
    if app_dir.exists() and any(app_dir.iterdir()) and not force:
        raise Conflict(f"{app_dir} exists and is not empty", hint="pick a new directory or pass --force")
    name = app_dir.name
    if not re.match(r"^[A-Za-z0-9_.-]+$", name):
        raise InvalidInput.field(None, "DIR", name, "a directory name of letters, digits, '_', '-', '.'")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    values = {
        "name": name,
        "project": re.sub(r"[^A-Za-z0-9_]", "_", name),
        "board": board,
        "config": config,
        "features": [(f, bool(config.features.get(f))) for f in FEATURES],
        "kconfig": kconfig_settings(board, config),
        "storage": storage_layout(board, config),
        "zephyr_version": ZEPHYR_VERSION,
    }
    outputs: dict[Path, str | bytes] = {}
    for template in sorted(TEMPLATES.glob("*.j2")):
        outputs[Path(template.name[:-3])] = env.get_template(template.name).render(**values)
    for rel in COPIED:
        outputs[Path(rel)] = (APP_SOURCE / rel).read_bytes()
    for fname, text in app_board_files(board, config).items():
        outputs[Path("boards") / fname] = text
    if board.board_dir:  # out-of-tree board travels with the app
        src = REPO_ROOT / board.board_dir
        rel_dir = Path("boards") / Path(board.board_dir).relative_to(Path(board.board_dir).parents[1])
        for f in sorted(src.rglob("*")):
            if f.is_file():
                outputs[rel_dir / f.relative_to(src)] = f.read_bytes()
    written = []
    for rel_path, data in outputs.items():
        atomic_write(app_dir / rel_path, data)
        written.append(app_dir / rel_path)
    log.info("generated %s for %s (%d files)", app_dir, board.name, len(written))
    return InitResult(app_dir, written)
