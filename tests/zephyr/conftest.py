"""Fixtures for the Zephyr room: a real west workspace (no Zephyr tree), run through the real CLI.

The workspace is this repository copied into a temp dir and initialised with ``west init -l`` once
per session; ``manifest.project-filter -- -zephyr`` keeps the extension visible while zephyr is not
cloned (the trap in toolchain.md). Tests copy nothing else; each runs ``west`` as a subprocess in
that workspace with its own cwd.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_COPY_IGNORE

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(scope="session")
def west_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A west workspace whose manifest repository is a copy of this repository (zephyr filtered)."""
    top = tmp_path_factory.mktemp("ws")
    shutil.copytree(REPO, top / "ocre-toolkit", ignore=REPO_COPY_IGNORE)
    env = _env(top)
    subprocess.run([sys.executable, "-m", "west", "init", "-l", "ocre-toolkit"], cwd=top, env=env, check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, "-m", "west", "config", "manifest.project-filter", "--", "-zephyr"],
                   cwd=top, env=env, check=True, capture_output=True)  # fmt: skip
    return top


def _env(top: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ZEPHYR_BASE", None)
    env.pop("BOARD", None)
    env["WEST_CONFIG_GLOBAL"] = str(top / ".west-global")
    env["WEST_CONFIG_SYSTEM"] = str(top / ".west-system")
    return env


@pytest.fixture
def west(west_workspace: Path, tmp_path: Path) -> Callable[..., Run]:
    """Run ``west ARGS`` in the workspace (cwd: a fresh dir inside it) and capture the result."""
    cwd = west_workspace / f"t-{tmp_path.name}"
    cwd.mkdir(exist_ok=True)

    def run(*argv: str, cwd_: Path | None = None, env: dict[str, str] | None = None) -> Run:
        p = subprocess.run(
            [sys.executable, "-m", "west", *argv],
            cwd=cwd_ or cwd,
            env={**_env(west_workspace), **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(p.returncode, p.stdout, p.stderr)

    run.cwd = cwd  # type: ignore[attr-defined]
    yield run
    # clean the west config keys a test may have set
    for key in ("build.board", "build.dir-fmt", "build.pristine"):
        subprocess.run([sys.executable, "-m", "west", "config", "-d", key], cwd=west_workspace,
                       env=_env(west_workspace), capture_output=True)  # fmt: skip
