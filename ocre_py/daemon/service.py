"""The daemon's model: containers that persist, restart by policy and log to rotating files.

:class:`Daemon` wraps one exclusive :class:`~ocre_py.runtime.Runtime` and adds what a service
needs on top of the runtime's lifecycle: a record per container on disk (``state.py``), a log per
container (``logs.py``), restart policies (``policy.py``), and the image directory. The HTTP layer
(``api.py``) only translates requests into these methods.

Locks: ``_lock`` guards the table of containers and ID reservation (held briefly, never while a
container runs code); each entry's ``op_lock`` serialises user operations on that container.
The runtime's exit hook runs on the container's own thread while a ``stop`` may be waiting for that
thread, so the hook never takes ``op_lock`` — it only updates the record under the entry's small
``lock`` and, for a policy restart, arms a timer that restarts from another thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.daemon import autoremove, requests
from ocre_py.daemon.blobs import ImageBlobs
from ocre_py.daemon.logs import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, ContainerLog
from ocre_py.daemon.policy import STABLE_RUN, RestartPolicy, backoff
from ocre_py.daemon.state import Record, StateStore
from ocre_py.errors import Conflict, ContainerError, ImageError, InvalidInput, NotFound, OcreError
from ocre_py.fsutil import atomic_write
from ocre_py.names import generate_id
from ocre_py.runtime import EXIT_KILLED, Container, ContainerState, Runtime, SimulatedDevices
from ocre_py.runtime.events import Message

log = logging.getLogger(__name__)
_S = ContainerState
_LIVE = (_S.RUNNING, _S.PAUSED)
_REMOVABLE = (_S.STOPPED, _S.CREATED, _S.ERROR, _S.EXITED)
WASM_MAGIC = b"\0asm"


@dataclass
class _Entry:
    record: Record
    log: ContainerLog
    policy: RestartPolicy
    container: Container | None = None
    user_stop: bool = False  # the current run ends because the user asked: no policy restart
    restart_timer: threading.Timer | None = None
    op_lock: threading.Lock = field(default_factory=threading.Lock)
    lock: threading.Lock = field(default_factory=threading.Lock)
    backoff_attempt: int = 0

    @property
    def restarting(self) -> bool:
        return self.restart_timer is not None


@dataclass(frozen=True)
class DaemonOptions:
    log_max_bytes: int = DEFAULT_MAX_BYTES
    log_max_files: int = DEFAULT_MAX_FILES
    shutdown_grace: float = 5.0
    #: GIL switch interval while the daemon runs (Python's default is 5 ms). A daemon is many
    #: threads that each do a little; a short interval lets a starting container's thread in
    #: promptly instead of queueing behind a request handler.
    switch_interval: float | None = 0.0005


class Daemon:
    def __init__(
        self,
        workdir: str | os.PathLike[str],
        *,
        options: DaemonOptions | None = None,
        devices: SimulatedDevices | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.options = options or DaemonOptions()
        self.runtime = Runtime(self.workdir, exclusive=True, devices=devices, on_exit=self._on_exit)
        self.store = StateStore(self.workdir / "state")
        self.blobs = ImageBlobs(self.workdir, self.runtime.images_dir)
        self.logs_dir = self.workdir / "logs"
        self.removed = autoremove.RemovedExits()
        self._entries: dict[str, _Entry] = {}
        self._reserved: set[str] = set()
        self._lock = threading.RLock()
        self._shutting_down = False
        self.started_at = time.time()

    # ---- start-up ----------------------------------------------------------------------------
    def restore(self) -> list[str]:
        """Re-create every recorded container, settle runs the daemon lost, autostart by policy.

        A container that ran when the previous daemon died comes back STOPPED with exit code 137
        (it was killed with the daemon), unless its policy restarts it; a ``--rm`` one that ran is
        removed, as its exit would have removed it (never started: it stays). Returns the restarted IDs."""
        to_start: list[str] = []
        for record in self.store.load_all():
            ended_rm = record.request.get("auto_remove") and record.started_at is not None
            if record.removing or ended_rm:  # died mid-removal, or --rm (no policy): it has ended
                self._finish_removal(record.id)
                why = "created with --rm, it has run" if ended_rm else "a removal the last daemon began"
                log.info("removed container %s (%s)", record.id, why)
                continue
            entry = self._load_entry(record)
            was_running = record.desired == "running"
            if entry.policy.autostart(was_running, record.policy_restarts):
                to_start.append(record.id)
            elif was_running:
                record.desired = "stopped"
            self.store.save(record)
        self.blobs.collect(e.record.request.get("digest") for e in list(self._entries.values()))
        for cid in to_start:
            entry = self._entries[cid]
            try:
                if entry.policy.name == "on-failure":
                    entry.record.policy_restarts += 1
                self._start_entry(entry)
                log.info("autostarted container %s (restart policy %s)", cid, entry.policy)
            except OcreError as exc:
                log.error("cannot autostart container %s: %s", cid, exc)
        return to_start

    def _load_entry(self, record: Record) -> _Entry:
        clog = self._new_log(record.id)
        entry = _Entry(record, clog, RestartPolicy.parse(record.restart))
        with self._lock:
            self._entries[record.id] = entry
        lost = record.state in ("RUNNING", "PAUSED")
        if lost:
            record.state, record.exit_code = "STOPPED", EXIT_KILLED
            record.error = "the daemon stopped while the container ran"
            record.finished_at = time.time()
        try:
            container = self.runtime.create(self.blobs.spec(record.request, record.id, clog))
        except OcreError as exc:
            record.state, record.error = "ERROR", f"cannot re-create the container: {exc.message}"
            log.error("container %s: %s", record.id, record.error)
            return entry
        container.created_at, container.started_at = record.created_at, record.started_at
        container.finished_at, container.restart_count = record.finished_at, record.restart_count
        container.exit_code, container.error = record.exit_code, record.error
        if record.state in ("STOPPED", "EXITED"):
            container.state = _S.STOPPED
        elif record.state == "ERROR":
            container.state = _S.ERROR
        entry.container = container
        return entry

    def _new_log(self, cid: str) -> ContainerLog:
        return ContainerLog(
            self.logs_dir / cid, max_bytes=self.options.log_max_bytes, max_files=self.options.log_max_files
        )

    # ---- lookup ------------------------------------------------------------------------------
    def _entry(self, cid: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(cid)
        if entry is None:
            raise NotFound(f"no such container: {cid}", hint="'ocre ps' lists the daemon's containers")
        return entry

    def describe(self, cid: str) -> dict[str, Any]:
        return self._describe(self._entry(cid))

    def _describe(self, entry: _Entry) -> dict[str, Any]:
        rec, c = entry.record, entry.container
        if c is not None:
            self.runtime.status(c.id)  # reap EXITED → STOPPED
            info = c.to_dict()
        else:
            info = {
                "id": rec.id,
                "image": rec.request["image"],
                "status": rec.state,
                "state": int(ContainerState[rec.state]),
                "exit_code": rec.exit_code,
                "error": rec.error,
                "args": rec.request["args"],
                "env": rec.request["env"],
                "capabilities": rec.request["capabilities"],
                "mounts": rec.request["mounts"],
                "created_at": rec.created_at,
                "started_at": rec.started_at,
                "finished_at": rec.finished_at,
                "restart_count": rec.restart_count,
            }
        info.update(
            restart_policy=str(entry.policy),
            restarting=entry.restarting,
            policy_restarts=rec.policy_restarts,
            labels=rec.request["labels"],
            log_path=str(entry.log.path),
            data_dir=str(self.runtime.containers_dir / rec.id),
        )
        return info

    def containers(self) -> list[dict[str, Any]]:
        with self._lock:
            entries = sorted(self._entries.values(), key=lambda e: (e.record.created_at, e.record.id))
        return [self._describe(e) for e in entries]

    def logs(self, cid: str) -> ContainerLog:
        return self._entry(cid).log

    def is_live(self, cid: str) -> bool:
        """Running, paused, or about to be restarted by its policy (``logs -f`` keeps following)."""
        with self._lock:
            entry = self._entries.get(cid)
        if entry is None:
            return False
        c = entry.container
        return entry.restarting or (c is not None and c.state in _LIVE)

    # ---- create / remove ---------------------------------------------------------------------
    def create(self, data: object, *, start: bool = False) -> dict[str, Any]:
        """Create a container. The record reaches the disk before its log or data directory exists,
        so a crash at any point leaves either nothing or a record (never an orphan directory)."""
        request = requests.normalize(data)
        self.blobs.pin(request)  # the content the name points to now, in the record from the start
        cid = self._reserve(request["name"])
        try:
            self._refuse_leftovers(cid)
            record = Record(cid, request, restart=request["restart"], created_at=time.time())
            self.store.write_now(record)
            clog: ContainerLog | None = None
            try:
                clog = self._new_log(cid)
                container = self.runtime.create(
                    self.blobs.spec(request, cid, clog), runtime=request["runtime"]
                )
            except BaseException:
                if clog is not None:
                    clog.remove()
                self.store.delete_now(cid)
                self.blobs.collect(e.record.request.get("digest") for e in list(self._entries.values()))
                raise
            container.created_at = record.created_at
            entry = _Entry(record, clog, RestartPolicy.parse(request["restart"]), container)
            with self._lock:
                self._entries[cid] = entry
        finally:
            with self._lock:
                self._reserved.discard(cid)
        log.info("created container %s from image %s", cid, request["image"])
        if start:
            try:
                self.start(cid)
            except OcreError:
                return {**self._describe(entry), "started": False}
        return self._describe(entry)

    def _reserve(self, name: str | None) -> str:
        with self._lock:
            if name is not None:
                if name in self._entries or name in self._reserved:
                    raise Conflict(f"container ID '{name}' is already in use", hint="pick another -n NAME")
                cid = name
            else:
                cid = generate_id(_Taken(self))
            self._reserved.add(cid)
            return cid

    def remove(self, cid: str, *, force: bool = False) -> None:
        """Remove a container. A tombstone (the record with ``removing``) reaches the disk before
        anything is deleted, so a crash mid-way leaves a removal the next daemon finishes."""
        entry = self._entry(cid)
        with entry.op_lock:
            c = entry.container
            if c is not None and not force and (state := self.runtime.status(cid)) not in _REMOVABLE:
                raise Conflict(f"container {cid} is {state.name.lower()}; stop it before removing it (or -f)")
            self._cancel_restart(entry)
            with entry.lock:
                entry.record.removing = True
                self.store.write_now(entry.record)
            if c is not None:
                if self.runtime.status(cid) in _LIVE:
                    entry.user_stop = True
                    self.runtime.kill(cid)
                    c.wait_done(10)
                self.runtime.remove(cid)
            with self._lock:
                self._entries.pop(cid, None)
            entry.log.remove()
            self._finish_removal(cid)
            self.blobs.collect(e.record.request.get("digest") for e in list(self._entries.values()))
        log.info("removed container %s", cid)

    def _finish_removal(self, cid: str) -> None:
        """Delete what is left of a tombstoned container: data, log, then the record itself."""
        shutil.rmtree(self.runtime.containers_dir / cid, ignore_errors=True)
        shutil.rmtree(self.logs_dir / cid, ignore_errors=True)
        self.store.delete_now(cid)

    def _refuse_leftovers(self, cid: str) -> None:
        """A new container never inherits the data or log of an earlier one with the same ID."""
        for what, path in (("data", self.runtime.containers_dir / cid), ("log", self.logs_dir / cid)):
            if path.exists():
                raise Conflict(
                    f"container ID '{cid}' has a {what} directory left without a record: {path}",
                    hint="'ocre doctor --repair' (daemon stopped) removes orphans; or pick another -n",
                )

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self, cid: str) -> dict[str, Any]:
        """Start a container; the reply is short (ID and status) so the call returns quickly."""
        entry = self._entry(cid)
        with entry.op_lock:
            self._cancel_restart(entry)
            entry.record.policy_restarts = 0
            entry.backoff_attempt = 0
            self._start_entry(entry)
        return {"id": cid, "status": "RUNNING"}

    def _start_entry(self, entry: _Entry) -> None:
        """Start (or re-create, for a container whose image was missing) and record it."""
        cid = entry.record.id
        if entry.container is None:
            try:
                entry.container = self.runtime.create(self.blobs.spec(entry.record.request, cid, entry.log))
            except OcreError as exc:
                raise ContainerError(f"container {cid} cannot be re-created: {exc.message}") from None
        entry.user_stop = False
        c = entry.container
        # The record is rendered before the start and only queued after it, so the thread that
        # asked does almost nothing while the new container's thread instantiates (start latency).
        with entry.lock:
            rec = entry.record
            rec.desired, rec.state, rec.exit_code, rec.error = "running", "RUNNING", None, None
            rec.started_at, rec.finished_at = time.time(), None
            rec.restart_count = c.restart_count + (1 if c.started_at is not None else 0)
            text = rec.to_json()
        self.runtime.start(cid)
        self.store.save_text(cid, text)
        log.info("started container %s", cid)

    def stop(self, cid: str, grace: float = 10.0) -> dict[str, Any]:
        entry = self._entry(cid)
        with entry.op_lock:
            was_restarting = self._cancel_restart(entry)
            if entry.container is None or self.runtime.status(cid) not in _LIVE:
                if not was_restarting:
                    raise Conflict(f"container {cid} is not running")
            else:
                entry.user_stop = True
                self.runtime.stop(cid, grace)
            self._set_desired(entry, "stopped")
        log.info("stopped container %s", cid)
        return self._describe(entry)

    def kill(self, cid: str) -> dict[str, Any]:
        entry = self._entry(cid)
        with entry.op_lock:
            was_restarting = self._cancel_restart(entry)
            c = entry.container
            if c is None or self.runtime.status(cid) not in _LIVE:
                if not was_restarting:
                    raise Conflict(f"container {cid} is not running")
            else:
                entry.user_stop = True
                self.runtime.kill(cid)
                c.wait_done(5)
            self._set_desired(entry, "stopped")
        log.info("killed container %s", cid)
        return self._describe(entry)

    def restart(self, cid: str, grace: float = 10.0) -> dict[str, Any]:
        entry = self._entry(cid)
        with entry.op_lock:
            self._cancel_restart(entry)
            if entry.container is not None and self.runtime.status(cid) in _LIVE:
                entry.user_stop = True
                self.runtime.stop(cid, grace)
            entry.record.policy_restarts = 0
            entry.backoff_attempt = 0
            self._start_entry(entry)
        return self._describe(entry)

    def pause(self, cid: str) -> dict[str, Any]:
        return self._pause(cid, True)

    def unpause(self, cid: str) -> dict[str, Any]:
        return self._pause(cid, False)

    def _pause(self, cid: str, pause: bool) -> dict[str, Any]:
        entry = self._entry(cid)
        with entry.op_lock:
            if entry.container is None:
                raise Conflict(f"container {cid} is not running")
            (self.runtime.pause if pause else self.runtime.unpause)(cid)
            with entry.lock:
                entry.record.state = "PAUSED" if pause else "RUNNING"
                self.store.save(entry.record)
        log.info("%s container %s", "paused" if pause else "unpaused", cid)
        return self._describe(entry)

    def wait(self, cid: str, timeout: float | None = None) -> int | None:
        """The exit code. A ``--rm`` container answers once the daemon has removed it, and one removed
        before the wait with the code it ended with."""
        if cid not in self._entries and (code := self.removed.exit_code(cid)) is not None:
            return code
        entry = self._entry(cid)
        if entry.container is None:
            raise ContainerError(f"container {cid} failed: {entry.record.error}")
        code = self.runtime.wait(cid, timeout)
        if code is not None and entry.record.request.get("auto_remove"):  # answered once it is removed
            self.removed.wait_until(
                lambda: self._entries.get(cid) is not entry or self._shutting_down,
                30.0 if timeout is None else min(30.0, timeout),
            )
        return code

    def _set_desired(self, entry: _Entry, desired: str) -> None:
        with entry.lock:
            entry.record.desired = desired
            self.store.save(entry.record)

    def _cancel_restart(self, entry: _Entry) -> bool:
        timer, entry.restart_timer = entry.restart_timer, None
        if timer is not None:
            timer.cancel()
            return True
        return False

    # ---- exits and restart policies ----------------------------------------------------------
    def _on_exit(self, container: Container) -> None:
        """Runtime exit hook (on the container's thread): record the exit, maybe arm a restart."""
        with self._lock:
            entry = self._entries.get(container.id)
        if entry is None or entry.container is not container:
            return
        entry.log.wake()
        state = "STOPPED" if container.state is _S.EXITED else container.state.name
        with entry.lock:
            rec = entry.record
            rec.state, rec.exit_code, rec.error = state, container.exit_code, container.error
            rec.finished_at = container.finished_at
            restart = False
            if self._shutting_down:
                pass  # desired stays: the next daemon decides by policy
            elif entry.user_stop or state == "ERROR":
                rec.desired = "stopped"
            elif entry.policy.should_restart(container.exit_code, rec.policy_restarts):
                restart = True
            else:
                rec.desired = "stopped"
            self.store.save(rec)
        log.info(
            "container %s exited with code %s",
            container.id,
            container.exit_code,
            extra={"container": container.id, "exit_code": container.exit_code, "state": state},
        )
        if restart:
            ran = (container.finished_at or 0) - (container.started_at or 0)
            if ran >= STABLE_RUN:
                entry.backoff_attempt = 0
            delay = backoff(entry.backoff_attempt)
            entry.backoff_attempt += 1
            timer = threading.Timer(delay, self._policy_restart, (entry,))
            timer.daemon = True
            entry.restart_timer = timer
            timer.start()
        elif rec.request.get("auto_remove") and not self._shutting_down:
            autoremove.remove_after_exit(self, container)

    def _policy_restart(self, entry: _Entry) -> None:
        me = threading.current_thread()
        with entry.op_lock:
            if entry.restart_timer is not me or self._shutting_down:
                return  # cancelled by stop/kill/rm/start meanwhile
            entry.restart_timer = None
            c = entry.container
            if c is not None:
                c.wait_done(5)
            entry.record.policy_restarts += 1
            try:
                self._start_entry(entry)
                log.info("restarted container %s (policy %s)", entry.record.id, entry.policy)
            except OcreError as exc:
                log.error("restart of container %s failed: %s", entry.record.id, exc)

    # ---- images ------------------------------------------------------------------------------
    @property
    def images_dir(self) -> Path:
        return self.runtime.images_dir

    def images(self) -> list[dict[str, Any]]:
        users = self._image_users()
        out = []
        for path in sorted(self.images_dir.iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest() if data else ""
            out.append({"name": path.name, "size": len(data), "sha256": digest})
            out[-1]["containers"] = users.get(path.name, [])
        return out

    def _image_users(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        with self._lock:
            for cid, entry in self._entries.items():
                users.setdefault(entry.record.request["image"], []).append(cid)
        return users

    def import_image(self, name: str, data: bytes) -> dict[str, Any]:
        """Store ``data`` as ``<workdir>/images/<name>`` (atomically; identical content is a no-op)."""
        path = requests.image_path(self.images_dir, name)
        if data[:4] != WASM_MAGIC:
            raise InvalidInput.field(None, "image", name, "a WebAssembly module (\\0asm header)")
        digest = hashlib.sha256(data).hexdigest()
        changed = not (path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest)
        if changed:
            atomic_write(path, data)
            log.info("imported image %s (%d bytes, sha256 %s)", name, len(data), digest)
        return {"name": name, "size": len(data), "sha256": digest, "changed": changed}

    def remove_image(self, name: str, *, force: bool = False) -> None:
        path = requests.image_path(self.images_dir, name)
        if not path.is_file():
            raise NotFound(f"no such image: {name}", hint="'ocre daemon images ls' lists them")
        users = self._image_users().get(name, [])
        if users and not force:
            raise Conflict(
                f"image {name} is used by container(s) {', '.join(users)}",
                hint="remove those containers first, or use --force",
            )
        path.unlink()
        log.info("removed image %s", name)

    # ---- messaging and devices ---------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, content_type: str) -> int:
        if not topic:
            raise InvalidInput.field(None, "topic", topic, "a non-empty topic")
        if not content_type:
            raise InvalidInput.field(None, "content type", content_type, "a non-empty MIME type")
        if not payload:
            raise InvalidInput.field(None, "payload", "", "at least one byte")
        return self.runtime.publish(topic, payload, content_type)

    def subscribe(self, prefix: str, callback: Callable[[Message], None]) -> int:
        return self.runtime.subscribe(prefix, callback)

    def unsubscribe(self, handle: int) -> None:
        self.runtime.broker.unsubscribe_host(handle)

    @property
    def devices(self) -> SimulatedDevices:
        return self.runtime.devices

    # ---- shutdown ----------------------------------------------------------------------------
    def close(self) -> None:
        """Ask running containers to finish, kill them after the grace period, release the workdir.

        Records keep ``desired``, so the next daemon restarts them by policy, as after a crash.
        """
        if self._shutting_down:
            return
        self._shutting_down = True
        self.removed.settled()  # waits for a --rm removal stop waiting: none comes now
        with self._lock:
            entries = list(self._entries.values())
        for e in entries:
            self._cancel_restart(e)
        live = [e.container for e in entries if e.container is not None and e.container.state in _LIVE]
        for c in live:
            if c.state is _S.PAUSED:
                c.control.unpause()
            c.control.request_stop()
        deadline = time.monotonic() + self.options.shutdown_grace
        for c in live:
            c.wait_done(max(0.0, deadline - time.monotonic()))
        self.runtime.close()
        self.store.close()
        log.info("daemon stopped")


class _Taken:
    """IDs that a generated ID must avoid: live records, reservations, leftover data and logs."""

    def __init__(self, daemon: Daemon) -> None:
        self._d = daemon

    def __contains__(self, cid: object) -> bool:
        d, name = self._d, str(cid)
        if name in d._entries or name in d._reserved:
            return True
        return (d.runtime.containers_dir / name).exists() or (d.logs_dir / name).exists()


__all__ = ["Daemon", "DaemonOptions", "ImageError"]
