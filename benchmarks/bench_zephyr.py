"""`west ocre build --dry-run` (render + checks) against `west --version`'s start-up.

Target: the dry run costs under 300 ms more than `west --version` (issue 5). Both run as real
processes in a real west workspace (this repository copied to a temp dir, `west init -l`, zephyr
filtered out because no Zephyr tree exists here); medians over ``rounds``. Boards: the
out-of-tree nucleo_u585 (BOARD_ROOT path) and mps2/an521/cpu0 (sim-flash overlay).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 300.0
_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "__pycache__", ".pytest_cache", ".ruff_cache",
                                 "*.egg-info", "*.wasm")  # fmt: skip


def _time(argv: list[str], cwd: Path, env: dict[str, str], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def run(rounds: int = 9) -> dict[str, object]:
    west = [sys.executable, "-m", "west"]
    with tempfile.TemporaryDirectory(prefix="ocre-bench-zephyr-") as tmp:
        top = Path(tmp)
        shutil.copytree(REPO, top / "ocre-toolkit", ignore=_IGNORE)
        env = {k: v for k, v in os.environ.items() if k not in ("ZEPHYR_BASE", "BOARD")}
        env.update(WEST_CONFIG_GLOBAL=str(top / ".g"), WEST_CONFIG_SYSTEM=str(top / ".s"))
        subprocess.run(
            [*west, "init", "-l", "ocre-toolkit"], cwd=top, env=env, check=True, capture_output=True
        )
        subprocess.run([*west, "config", "manifest.project-filter", "--", "-zephyr"], cwd=top, env=env,
                       check=True, capture_output=True)  # fmt: skip
        # warm the page cache and .pyc files once
        subprocess.run([*west, "ocre", "build", "-b", "nucleo_u585", "--dry-run"], cwd=top, env=env,
                       check=True, capture_output=True)  # fmt: skip
        version_ms = _time([*west, "--version"], top, env, rounds)
        boards_ms = _time([*west, "ocre", "boards"], top, env, rounds)
        u585_ms = _time([*west, "ocre", "build", "-b", "nucleo_u585", "--dry-run"], top, env, rounds)
        an521_ms = _time([*west, "ocre", "build", "-b", "mps2/an521/cpu0", "--dry-run"], top, env, rounds)
    overhead = max(u585_ms, an521_ms) - version_ms
    return {
        "west_version_ms": round(version_ms, 1),
        "west_ocre_boards_ms": round(boards_ms, 1),
        "dry_run_nucleo_u585_ms": round(u585_ms, 1),
        "dry_run_mps2_an521_cpu0_ms": round(an521_ms, 1),
        "dry_run_overhead_ms": round(overhead, 1),
        "target_overhead_ms": TARGET_MS,
        "within_target": overhead < TARGET_MS,
    }


if __name__ == "__main__":
    print(run())
