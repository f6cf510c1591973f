"""``ocre doctor`` on a runtime workdir: images, container directories, daemon records and orphans."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ocre_py.doctor.report import TEMP_FILE, Finding, flock, remove_path, temp_files
from ocre_py.errors import OcreError
from ocre_py.names import is_valid_name

log = logging.getLogger(__name__)


# --- the runtime workdir --------------------------------------------------------------------------


def check_workdir(workdir: str | os.PathLike[str], *, repair: bool = False) -> list[Finding]:
    """Check ``<workdir>/images``, ``containers``, the lock file and the daemon's state directory."""
    from ocre_py.image.wasm import is_aot, parse_module

    wd = Path(workdir)
    out: list[Finding] = []
    if not wd.exists():
        return out
    lock = wd / ".lock"
    if lock.exists():
        with flock(lock, blocking=False) as free:
            if not free:
                # A live runtime or daemon may be mid-way through an atomic write: its temp file is
                # not debris yet, so the workdir is only checked, never repaired, while it runs.
                note = "in use by a runtime or daemon: checked only" + (", not repaired" if repair else "")
                out.append(Finding("workdir", str(lock), note, "info"))
                repair = False
    out += temp_files(wd, "workdir", repair)
    images = wd / "images"
    out += temp_files(images, "workdir", repair)
    if images.is_dir():
        for p in sorted(images.iterdir()):
            if TEMP_FILE.fullmatch(p.name):
                continue
            if not is_valid_name(p.name):
                out.append(
                    Finding("workdir", str(p), "image name breaks the name rule ([a-z0-9._-])", "warning")
                )
            if not p.is_file():
                out.append(Finding("workdir", str(p), "not a regular file in the flat images directory"))
                continue
            data = p.read_bytes()
            if not data:
                continue  # an empty file is a valid (blank-hash) image entry per spec 6
            if is_aot(data):
                continue
            try:
                parse_module(data, source=p.name)
            except OcreError as exc:
                out.append(Finding("workdir", str(p), f"not a valid wasm module: {exc.message}"))
    containers = wd / "containers"
    if containers.is_dir():
        for p in sorted(containers.iterdir()):
            if TEMP_FILE.fullmatch(p.name) and p.is_file():
                f = Finding("workdir", str(p), "stale temp file from an interrupted write", "warning")
                if repair:
                    f.repaired = remove_path(p)
                out.append(f)
            elif not is_valid_name(p.name):
                out.append(Finding("workdir", str(p), "container directory name is not a valid container ID",
                                   "warning"))  # fmt: skip
    out += _check_state(wd / "state" / "containers", repair)
    out += _check_daemon_orphans(wd, repair)
    return out


def _check_daemon_orphans(wd: Path, repair: bool) -> list[Finding]:
    """Containers half-created or half-removed by a daemon that was killed, both ways round.

    The daemon writes a container's record before its log and data directories exist, and marks
    the record ``removing`` (a tombstone) before deleting them; so a log directory without a record
    is an orphan (only the daemon makes them), as is a data directory beside one, and a tombstoned
    record is a removal to finish. A data directory alone may belong to ``ocre run`` (no record is
    ever kept for those), so it is only mentioned, never removed.
    """
    import shutil

    state = wd / "state" / "containers"
    if not state.is_dir():
        return []  # not a daemon's workdir
    records: dict[str, bool] = {}  # id -> tombstoned
    for p in sorted(state.glob("*.json")):
        try:
            doc = json.loads(p.read_text())
        except (OSError, ValueError):
            continue  # reported by _check_state
        records[p.stem] = isinstance(doc, dict) and doc.get("removing") is True
    logs, data = wd / "logs", wd / "containers"
    out: list[Finding] = []

    def remove_tree(path: Path) -> str:
        shutil.rmtree(path, ignore_errors=True)
        return f"removed {path.name}/"

    for cid, tombstoned in records.items():
        if not tombstoned:
            continue
        problem = "container removal interrupted (tombstone): record kept"
        f = Finding("state", str(state / f"{cid}.json"), problem, "warning")
        if repair:
            remove_tree(data / cid)
            remove_tree(logs / cid)
            (state / f"{cid}.json").unlink(missing_ok=True)
            f.repaired = f"finished the removal of {cid} (data, log, record)"
        out.append(f)
    for d in sorted(logs.iterdir()) if logs.is_dir() else []:
        if not d.is_dir() or d.name in records or not is_valid_name(d.name):
            continue
        f = Finding("workdir", str(d), "orphan container log directory: no daemon record", "warning")
        if repair:
            f.repaired = remove_tree(d)
        out.append(f)
        if (data / d.name).is_dir():
            g = Finding("workdir", str(data / d.name), "orphan container data directory: no daemon record",
                        "warning")  # fmt: skip
            if repair:
                g.repaired = remove_tree(data / d.name)
            out.append(g)
    for d in sorted(data.iterdir()) if data.is_dir() else []:
        if d.is_dir() and d.name not in records and is_valid_name(d.name) and not (logs / d.name).exists():
            note = "container data directory with no daemon record ('ocre run' without --rm?): left alone"
            out.append(Finding("workdir", str(d), note, "info"))
    return out


def _check_state(directory: Path, repair: bool) -> list[Finding]:
    """The daemon's container records: each ``<id>.json`` parses and names its own ID."""
    out = temp_files(directory, "state", repair)
    if not directory.is_dir():
        return out
    for p in sorted(directory.iterdir()):
        if p.suffix == ".bad":
            out.append(
                Finding("state", str(p), "a record the daemon could not read and moved aside", "warning")
            )
            continue
        if p.suffix != ".json":
            continue
        try:
            doc = json.loads(p.read_text())
            if (
                not isinstance(doc, dict)
                or doc.get("id") != p.stem
                or not isinstance(doc.get("request"), dict)
            ):
                raise ValueError("not a container record for this file name")
        except (OSError, ValueError) as exc:
            f = Finding("state", str(p), f"unreadable container record ({exc})")
            if repair:
                os.replace(p, p.with_suffix(".bad"))
                f.repaired = f"moved aside to {p.with_suffix('.bad').name}"
            out.append(f)
    return out
