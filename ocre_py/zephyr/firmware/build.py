"""``west ocre build``: resolve the board, render the overlay + fragment, check the budget, run west.

Split in two so a dry run is the real thing minus side effects: :func:`plan_build` is pure (reads
config, returns a :class:`BuildPlan` with the exact command and the files' text) and
:func:`execute_build` writes the files atomically and runs ``python -m west build``. The command
line is the test oracle. Generated files live in ``<build dir>/ocre/``; because ``west build -p``
would wipe them, pristine builds are done here (same rules as west: ``always``, or ``auto`` when the
app or board changed) and west always gets ``-p never``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ocre_py.errors import BuildError, InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.zephyr import plugins
from ocre_py.zephyr.board.database import REPO_ROOT, Board, lookup_board
from ocre_py.zephyr.firmware.budget import Budget, estimate_budget
from ocre_py.zephyr.firmware.render import render_kconfig, render_overlay, storage_layout
from ocre_py.zephyr.project import build_dir as bdir
from ocre_py.zephyr.project.config import OcreConfig, find_config, load_config
from ocre_py.zephyr.project.workspace import WestContext
from ocre_py.zephyr.storage import autostart

log = logging.getLogger(__name__)

DEFAULT_APP = REPO_ROOT / "zephyr_app"
GENERATED_DIR = "ocre"
PRISTINE_VALUES = ("auto", "always", "never")


@dataclass
class BuildRequest:
    """What the user asked for. Extend with fields (e.g. ``profile``) rather than new functions."""

    board: str | None = None
    build_dir: Path | None = None
    pristine: str | None = None
    app: Path | None = None
    config_path: Path | None = None
    west_args: list[str] = field(default_factory=list)  # west build flags passed through, in order
    extra_conf: list[str] = field(default_factory=list)
    extra_dtc_overlay: list[str] = field(default_factory=list)
    cmake_args: list[str] = field(default_factory=list)
    dry_run: bool = False
    ignore_budget: bool = False
    profile: str | None = None  # full (default) or a registered profile (tiny); ocre.yml's otherwise


@dataclass
class BuildPlan:
    """Everything a build will do, computed without side effects."""

    target: str  # the board target passed to west (may carry qualifiers)
    board: Board
    board_origin: str
    app: Path
    build_dir: Path
    config: OcreConfig
    budget: Budget
    files: dict[Path, str]
    command: list[str]
    wipe_build_dir: bool = False

    @property
    def command_line(self) -> str:
        return shlex.join(self.command)

    def to_dict(self) -> dict[str, object]:
        return {
            "board": self.target,
            "board_origin": self.board_origin,
            "app": str(self.app),
            "build_dir": str(self.build_dir),
            "command": self.command,
            "files": {str(p): text for p, text in self.files.items()},
            "budget": self.budget.to_dict(),
            "wipe_build_dir": self.wipe_build_dir,
        }


def resolve_board(
    request: BuildRequest, config: OcreConfig, ctx: WestContext, build_dir: Path | None
) -> tuple[str, str]:
    """(board target, where it came from): -b, ocre.yml, $BOARD, build.board, the build dir cache."""
    if request.board:
        return request.board, "command line (-b)"
    if config.board:
        return config.board, f"{config.source} (board)"
    if os.environ.get("BOARD"):
        return os.environ["BOARD"], "environment (BOARD)"
    if ctx.config("build.board"):
        return str(ctx.config("build.board")), "west config (build.board)"
    if build_dir is not None:
        cached = bdir.board(build_dir)
        if cached:
            return cached, f"build directory {build_dir} (CACHED_BOARD)"
    raise InvalidInput(
        "no board given: pass -b BOARD, set 'board:' in ocre.yml or 'west config build.board BOARD'",
        hint="'west ocre boards' lists the supported boards",
    )


def resolve_build_dir(request: BuildRequest, ctx: WestContext, target: str | None, app: Path) -> Path:
    """-d, else west's ``build.dir-fmt`` (``{board}``, ``{app}``, ``{west_topdir}``...), else ``build``."""
    if request.build_dir:
        return Path(request.build_dir)
    fmt = ctx.config("build.dir-fmt")
    if fmt:
        try:
            source_dir = os.path.relpath(app, Path.cwd())
            return Path(
                fmt.format(
                    board=target or "",
                    normalized_board=(target or "").replace("/", "_"),
                    app=app.name,
                    source_dir=source_dir,
                    source_dir_workspace=os.path.relpath(app, ctx.topdir) if ctx.topdir else source_dir,
                    west_topdir=str(ctx.topdir or ""),
                )
            )
        except (KeyError, IndexError, ValueError):
            log.warning("build.dir-fmt %r cannot be resolved; using 'build'", fmt)
    return Path("build")


def resolve_app(request: BuildRequest) -> Path:
    if request.app:
        app = Path(request.app)
        if not (app / "CMakeLists.txt").is_file():
            raise InvalidInput.field(
                None, "APP", str(app), "a Zephyr application directory with CMakeLists.txt"
            )
        return app.resolve()
    cwd = Path.cwd()
    return cwd if (cwd / "CMakeLists.txt").is_file() else DEFAULT_APP


def pristine(request: BuildRequest, ctx: WestContext, build_dir: Path, target: str, app: Path) -> bool:
    value = request.pristine or ctx.config("build.pristine") or "never"
    if value not in PRISTINE_VALUES:
        log.warning("build.pristine %r is not one of auto, always, never; using never", value)
        value = "never"
    if value == "never" or not build_dir.exists():
        return False
    cache = bdir.read_cmake_cache(build_dir)
    if value == "auto":
        cached_app = cache.get("APPLICATION_SOURCE_DIR")
        cached_board = cache.get("CACHED_BOARD")
        changed_app = cached_app is not None and Path(cached_app).resolve() != app.resolve()
        changed_board = cached_board is not None and cached_board != target
        return changed_app or changed_board
    return True


def merge_cmake_list(cmake_args: list[str], var: str, ours: list[str]) -> tuple[list[str], str | None]:
    """Take ``-D<var>=...`` out of the user's args and merge it after ours (theirs win later)."""
    rest: list[str] = []
    values = list(ours)
    for arg in cmake_args:
        for prefix in (f"-D{var}=", f"-D{var}:STRING=", f"-D{var}:PATH="):
            if arg.startswith(prefix):
                values += [v for v in arg[len(prefix) :].split(";") if v]
                break
        else:
            rest.append(arg)
    return rest, (";".join(values) if values else None)


@dataclass(frozen=True)
class PlanContext:
    """What every profile's planner starts from: the request, resolved."""

    request: BuildRequest
    ctx: WestContext
    app: Path
    config: OcreConfig
    target: str  # the board target passed to west (may carry qualifiers)
    origin: str  # where the board came from
    board: Board
    build_dir: Path

    def pristine(self) -> bool:
        return pristine(self.request, self.ctx, self.build_dir, self.target, self.app)


Planner = Callable[[PlanContext], BuildPlan]
#: Build planners of the profiles other than ``full``, by name; profiles register themselves
#: (:mod:`ocre_py.zephyr.plugins`), the tiny profile with :func:`ocre_py.zephyr.tiny.plan.plan_tiny_build`.
PLANNERS: dict[str, Planner] = {}


def register_planner(profile: str, planner: Planner) -> None:
    PLANNERS[profile] = planner


def planner_for(profile: str) -> Planner:
    if profile not in PLANNERS:
        plugins.load()
    if profile not in PLANNERS:
        raise InvalidInput.field(None, "--profile", profile, " or ".join(["full", *sorted(PLANNERS)]))
    return PLANNERS[profile]


def plan_build(request: BuildRequest, ctx: WestContext) -> BuildPlan:
    """Resolve everything and compute the command and files; no side effects."""
    app = resolve_app(request)
    config_path = request.config_path or find_config(app)
    config = load_config(config_path)
    pre_dir = Path(request.build_dir) if request.build_dir else None
    target, origin = resolve_board(request, config, ctx, pre_dir or Path("build"))
    board = lookup_board(target)
    build_dir = resolve_build_dir(request, ctx, target, app)
    profile = request.profile or config.profile or "full"
    ctx_plan = PlanContext(request, ctx, app, config, target, origin, board, build_dir)
    if profile != "full":
        return planner_for(profile)(ctx_plan)
    return _plan_full(ctx_plan)


def _plan_full(p: PlanContext) -> BuildPlan:
    """The full profile: Ocre's Kconfig fragment, the storage overlay, the board's budget."""
    request, app, config, target, origin, board, build_dir = (
        p.request, p.app, p.config, p.target, p.origin, p.board, p.build_dir
    )  # fmt: skip
    budget = estimate_budget(board, config)
    if not request.ignore_budget:
        budget.check()
    gen = build_dir.resolve() / GENERATED_DIR
    conf_file, overlay_file = gen / "ocre.conf", gen / "ocre.overlay"
    layout = storage_layout(board, config)
    files = {
        conf_file: render_kconfig(board, config),
        overlay_file: render_overlay(board, config),
        gen / "storage.json": json.dumps(
            {"board": target, "mount_point": "/lfs", **layout.__dict__}, indent=2, sort_keys=True
        )
        + "\n",
        gen / "autostart": autostart.render(autostart.entries_from_config(config.containers)),
    }
    cmake = list(request.cmake_args)
    cmake, board_root = merge_cmake_list(
        cmake, "BOARD_ROOT", [str(board.board_root)] if board.board_root else []
    )
    cmake, extra_conf = merge_cmake_list(cmake, "EXTRA_CONF_FILE", [str(conf_file), *request.extra_conf])
    cmake, extra_dtc = merge_cmake_list(
        cmake, "EXTRA_DTC_OVERLAY_FILE", [str(overlay_file), *request.extra_dtc_overlay]
    )
    command = [sys.executable, "-m", "west", "build", "-b", target, "-d", str(build_dir), "-p", "never"]
    command += request.west_args
    command += [str(app), "--"]
    if board_root:
        command.append(f"-DBOARD_ROOT={board_root}")
    command += [f"-DEXTRA_CONF_FILE={extra_conf}", f"-DEXTRA_DTC_OVERLAY_FILE={extra_dtc}", *cmake]
    return BuildPlan(
        target=target,
        board=board,
        board_origin=origin,
        app=app,
        build_dir=build_dir,
        config=config,
        budget=budget,
        files=files,
        command=command,
        wipe_build_dir=p.pristine(),
    )


def write_generated(plan: BuildPlan) -> None:
    for path, text in plan.files.items():
        atomic_write(path, text)


def _wipe(build_dir: Path) -> None:
    """Empty a build dir for a pristine build; refuses a dir that is not a build dir (data guard)."""
    if not bdir.is_configured(build_dir) and any(p.name != GENERATED_DIR for p in build_dir.iterdir()):
        raise BuildError(
            f"refusing to wipe {build_dir}: it is not a Zephyr build directory (no CMakeCache.txt)",
            hint="pick another -d or remove it yourself",
        )
    for child in build_dir.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def execute_build(
    plan: BuildPlan,
    ctx: WestContext,
    *,
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
) -> int:
    """Wipe if pristine, write the files, run west build (raises CalledProcessError on failure)."""
    zephyr_base = ctx.require_zephyr()
    if plan.wipe_build_dir:
        log.info("pristine build: emptying %s", plan.build_dir)
        _wipe(plan.build_dir)
    write_generated(plan)
    env = dict(os.environ, ZEPHYR_BASE=str(zephyr_base))
    log.info("running: %s", plan.command_line)
    run(plan.command, env=env, check=True)
    return 0


def build(request: BuildRequest, ctx: WestContext) -> BuildPlan:
    """Plan and, unless ``request.dry_run``, execute. Returns the plan (the CLI prints it)."""
    plan = plan_build(request, ctx)
    if not request.dry_run:
        execute_build(plan, ctx)
    return plan


def split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``[..., '--', cmake...]`` into (before, after)."""
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []
