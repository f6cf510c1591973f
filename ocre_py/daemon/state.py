"""Container records that outlive the daemon: ``<workdir>/state/containers/<id>.json``.

A record holds what is needed to re-create a container after a restart (the create request), its
restart policy, whether the user wants it running (``desired``), and its last known state and exit
code. Each record is one file written atomically (temp file, fsync, rename), so a ``kill -9`` at any
moment leaves every record either at its old or its new content — never half-written (writes happen
on a background thread: see :class:`StateStore`). A file that
still fails to parse (disk trouble, a hand edit) is moved aside as ``.bad`` and logged, not fatal.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.fsutil import atomic_write

log = logging.getLogger(__name__)
FORMAT = 1
COMMIT_INTERVAL = 0.02  # seconds between the writer's looks at the queue (group commit)


@dataclass
class Record:
    """The persistent part of one daemon-managed container."""

    id: str
    request: dict[str, Any]  # the validated create request: image, args, env, caps, mounts, limits…
    restart: str = "no"
    desired: str = "stopped"  # "running" once the user started it, "stopped" after stop/kill/exit
    state: str = "CREATED"
    exit_code: int | None = None
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    restart_count: int = 0  # every start after the first (user restarts and policy restarts)
    policy_restarts: int = 0  # restarts made by the policy since the user last started it
    #: Tombstone: written (durably) before a removal deletes anything, so a crash mid-removal
    #: leaves a record the next daemon (or ``ocre doctor --repair``) finishes removing, never a
    #: container that comes back without its data.
    removing: bool = False
    format: int = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        # vars() instead of asdict(): no deep copy (4× faster; this runs on every start).
        return json.dumps(vars(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Record:
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class StateStore:
    """Records on disk, written by one background thread so no request waits for an fsync.

    Group commit: :meth:`save` snapshots the record (JSON) and queues it without waking anyone;
    the writer looks at the queue every ``COMMIT_INTERVAL`` (20 ms) and writes what it finds, each
    record once however often it changed. A request — a start above all — therefore never shares
    the GIL with the writer at the moment it matters. A change reaches the disk within about
    20 ms plus an fsync; a ``kill -9`` in that window loses only that change, and every file is
    still whole (atomic rename), so the next daemon sees a consistent earlier state.
    :meth:`flush` writes at once and waits (shutdown, tests).
    """

    def __init__(self, root: Path) -> None:
        self.directory = root / "containers"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition()
        self._pending: dict[str, str | None] = {}  # id → JSON to write, or None to delete
        self._busy = False
        self._urgent = False
        self._closed = False
        #: Held while files are written: a batch is taken and written under it, so
        #: :meth:`write_now` can never be overtaken by an older queued version of the same record.
        self._io_lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_loop, name="ocred-state", daemon=True)
        self._writer.start()

    def _path(self, cid: str) -> Path:
        return self.directory / f"{cid}.json"

    def save(self, record: Record) -> None:
        self._queue(record.id, record.to_json())

    def save_text(self, cid: str, text: str) -> None:
        """Queue a record already rendered with :meth:`Record.to_json`."""
        self._queue(cid, text)

    def delete(self, cid: str) -> None:
        self._queue(cid, None)

    def write_now(self, record: Record) -> None:
        """Write ``record`` durably before returning (create's record, remove's tombstone).

        Ordering points of a crash-consistent create or remove: the caller changes nothing else
        on disk until this returns. Any queued older version of the record is dropped.
        """
        text = record.to_json()
        with self._io_lock:
            with self._cond:
                if self._closed:
                    raise RuntimeError("state store is closed")
                self._pending.pop(record.id, None)
            atomic_write(self._path(record.id), text)

    def delete_now(self, cid: str) -> None:
        """Delete a record before returning (the last step of a removal finished at restore)."""
        with self._io_lock:
            with self._cond:
                self._pending.pop(cid, None)
            self._path(cid).unlink(missing_ok=True)

    def _queue(self, cid: str, text: str | None) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("state store is closed")
            self._pending[cid] = text

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    if self._closed:
                        return
                    self._cond.wait(COMMIT_INTERVAL)
                    if not self._pending:
                        continue
            with self._io_lock:
                with self._cond:
                    batch, self._pending = self._pending, {}
                    self._busy, self._urgent = True, False
                for cid, text in batch.items():
                    try:
                        if text is None:
                            self._path(cid).unlink(missing_ok=True)
                        else:
                            atomic_write(self._path(cid), text)
                    except OSError as exc:
                        log.error("cannot write the record of container %s: %s", cid, exc)
            with self._cond:
                self._busy = False
                self._cond.notify_all()
            if not self._closed and not self._urgent:
                time.sleep(COMMIT_INTERVAL)

    def flush(self, timeout: float = 30.0) -> bool:
        """Write every queued change now and wait until it is on disk."""
        with self._cond:
            self._urgent = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._writer.join(30)

    def load_all(self) -> Iterator[Record]:
        for path in sorted(self.directory.glob("*.json")):
            try:
                record = Record.from_json(path.read_text())
                if record.id != path.stem:
                    raise ValueError(f"record id {record.id!r} does not match its file name")
                from ocre_py.daemon.requests import normalize

                record.request = normalize(
                    record.request, stored=True
                )  # a hand-edited or foreign request: moved aside
            except (OSError, ValueError, TypeError, AttributeError) as exc:  # AttributeError: not an object
                log.error("unreadable container record %s (%s); moved aside", path, exc)
                os.replace(path, path.with_suffix(".bad"))
                continue
            yield record
