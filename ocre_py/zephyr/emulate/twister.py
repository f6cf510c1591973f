"""``test``: run Twister on the Ocre app's integration platforms and summarise ``twister.json``.

Twister already knows how to build, run (QEMU, native_sim, hardware) and judge console output; we
only build its command line from parts (so ``--dry-run`` shows exactly what would run) and read its
JSON report into a small result the CLI prints and CI can gate on.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import InvalidInput, MissingProgram

log = logging.getLogger(__name__)

PASSED = frozenset({"passed"})
FAILED = frozenset({"failed", "error"})


@dataclass(frozen=True)
class SuiteResult:
    name: str
    platform: str
    status: str
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class TwisterSummary:
    """Counts by outcome plus each suite; ``ok`` when nothing failed and something ran."""

    report: str
    suites: tuple[SuiteResult, ...] = field(default=())

    def count(self, statuses: frozenset[str]) -> int:
        return sum(1 for s in self.suites if s.status in statuses)

    @property
    def passed(self) -> int:
        return self.count(PASSED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def skipped(self) -> int:
        return len(self.suites) - self.passed - self.failed

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "ok": self.ok,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "suites": [asdict(s) for s in self.suites],
        }


def twister_command(
    app_dir: str | os.PathLike[str],
    *,
    outdir: str | os.PathLike[str],
    platforms: Sequence[str] = (),
    board_root: str | os.PathLike[str] | None = None,
    device_serial: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """``west twister`` for the app: ``-G`` (integration platforms) unless platforms are given."""
    cmd = ["west", "twister", "-T", str(app_dir), "-O", str(outdir), "--inline-logs", "-v"]
    if platforms:
        for p in platforms:
            cmd += ["-p", p]
    else:
        cmd.append("-G")
    if board_root:
        cmd += ["--board-root", str(board_root)]
    if device_serial:
        cmd += ["--device-testing", "--device-serial", device_serial, "--west-flash"]
    return cmd + list(extra)


def summarize(report: str | os.PathLike[str]) -> TwisterSummary:
    """Read ``twister.json`` (``testsuites[]`` with ``name``, ``platform``, ``status``, ``reason``)."""
    path = Path(report)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput.field(None, "twister report", str(path), f"a twister.json file ({exc})") from None
    suites = []
    for s in data.get("testsuites", []):
        suites.append(
            SuiteResult(
                name=str(s.get("name", "?")),
                platform=str(s.get("platform", "?")),
                status=str(s.get("status", "not run")),
                reason=str(s.get("reason", "") or ""),
                seconds=float(s.get("execution_time", 0) or 0),
            )
        )
    return TwisterSummary(str(path), tuple(suites))


def run_twister(
    cmd: Sequence[str], *, outdir: str | os.PathLike[str], cwd: str | None = None
) -> TwisterSummary:
    """Run the command; a failing twister still leaves a report, which is what we summarise."""
    if shutil.which(cmd[0]) is None:
        raise MissingProgram(cmd[0])
    log.info("running %s", shlex.join(cmd))
    proc = subprocess.run(list(cmd), cwd=cwd, check=False)
    report = Path(outdir) / "twister.json"
    if not report.is_file():
        raise subprocess.CalledProcessError(proc.returncode or 1, list(cmd))
    return summarize(report)
