"""What ``ocre doctor`` found and did: findings, the report, and the helpers every check shares."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Temp files left by :func:`ocre_py.fsutil.atomic_open` (``mkstemp(prefix=".NAME.", suffix=".tmp")``)
#: and by the daemon's token writer (``.NAME.PID.tmp``).
TEMP_FILE = re.compile(r"^\..+\.tmp$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Finding:
    """One problem: where, what, how bad, and what ``--repair`` did about it (if anything)."""

    area: str  # "store", "workdir", "state", "partition"
    path: str
    problem: str
    severity: str = "error"  # "error": damage; "warning": debris that costs nothing but space; "info"
    repaired: str | None = None  # the action taken, when repair ran and could fix it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorReport:
    """What :func:`diagnose` found and did. ``ok`` means nothing is left to fix."""

    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error" and not f.repaired]

    @property
    def unrepaired(self) -> list[Finding]:
        return [f for f in self.findings if not f.repaired and f.severity != "info"]

    @property
    def ok(self) -> bool:
        return not self.unrepaired

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": list(self.checked),
            "findings": [f.to_dict() for f in self.findings],
        }


# --- helpers --------------------------------------------------------------------------------------


def remove_path(path: Path) -> str:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return f"removed {path.name}"


def temp_files(directory: Path, area: str, repair: bool) -> list[Finding]:
    out: list[Finding] = []
    if not directory.is_dir():
        return out
    for p in sorted(directory.iterdir()):
        if p.is_file() and TEMP_FILE.fullmatch(p.name):
            f = Finding(area, str(p), "stale temp file from an interrupted write", "warning")
            if repair:
                f.repaired = remove_path(p)
            out.append(f)
    return out


@contextlib.contextmanager
def flock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold ``path``'s flock while checking; yields False when another process holds it (no wait)."""
    if not path.parent.is_dir():
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
