"""The Linux runtime: one context owning one working directory and its containers (spec 5–6).

Transitions follow upstream Ocre's table, with this project's differences (spec 9): per-container
event queues and timers, 137 for a kill, a non-zero code for a trap, ERROR for a failed start,
directories that survive restarts, and HOST:GUEST mounts. Beyond upstream the Linux runtime can
stop (gracefully, then kill), pause at the next host call, and enforce --timeout/--cpu-budget.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ocre_py.errors import Conflict, ContainerError, InvalidInput, NotFound
from ocre_py.names import generate_id
from ocre_py.runtime.container import Container, RunContext
from ocre_py.runtime.devices import SimulatedDevices
from ocre_py.runtime.engine import ModuleCache, new_engine
from ocre_py.runtime.events import DEFAULT_QUEUE_SIZE, Message
from ocre_py.runtime.messaging import MessageBroker
from ocre_py.runtime.session import Session
from ocre_py.runtime.spec import ContainerSpec
from ocre_py.runtime.state import ContainerState
from ocre_py.runtime.timers import TimerService
from ocre_py.workdir import default_workdir

log = logging.getLogger(__name__)

RUNTIMES = ("wasmtime/wasip1",)
_S = ContainerState


class Runtime:
    """A context: ``Runtime(workdir)`` creates ``<wd>``, ``<wd>/images`` and ``<wd>/containers``.

    ``exclusive=True`` (the default; the daemon uses it) holds a lock on the working directory, so a
    second context on the same directory — in this process or another — is rejected. Attached
    ``ocre run`` uses ``exclusive=False`` so it can run beside a daemon.

    ``interruptible=False`` compiles without epoch checks unless a container has ``--timeout`` or
    ``--cpu-budget``: faster compute, but kill then only reaches containers in host calls (sleep,
    events, stdin); the attached CLI uses it because Ctrl-C ends its whole process.
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        *,
        exclusive: bool = True,
        devices: SimulatedDevices | None = None,
        module_cache: ModuleCache | None = None,
        event_queue_size: int = DEFAULT_QUEUE_SIZE,
        on_exit: Callable[[Container], None] | None = None,
        interruptible: bool = True,
    ) -> None:
        self.workdir = Path(workdir) if workdir is not None else default_workdir()[0]
        for d in (self.workdir, self.images_dir, self.containers_dir):
            d.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        if exclusive:
            fd = os.open(self.workdir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise Conflict(
                    f"working directory {self.workdir} is already in use by another Ocre runtime",
                    hint="stop the other runtime (daemon) or use another $OCRE_HOME",
                ) from None
            self._lock_fd = fd
        self.devices = devices or SimulatedDevices()
        self.broker = MessageBroker()
        self.timers = TimerService()
        self.module_cache = module_cache or ModuleCache()
        self.event_queue_size = event_queue_size
        self._on_exit = on_exit
        self.interruptible = interruptible
        self._containers: dict[str, Container] = {}
        self._lock = threading.RLock()
        self._budget_thread: threading.Thread | None = None
        self._closed = False

    @property
    def images_dir(self) -> Path:
        return self.workdir / "images"

    @property
    def containers_dir(self) -> Path:
        return self.workdir / "containers"

    # ---- lookup ------------------------------------------------------------------------------
    def get(self, container_id: str) -> Container:
        with self._lock:
            container = self._containers.get(container_id)
        if container is None:
            raise NotFound(f"no such container: {container_id}")
        return container

    def list(self) -> list[Container]:
        with self._lock:
            for c in self._containers.values():
                self._reap(c)
            return list(self._containers.values())

    def __len__(self) -> int:
        return len(self._containers)

    def status(self, container_id: str) -> ContainerState:
        with self._lock:
            container = self._containers.get(container_id)
            if container is None:
                return _S.UNKNOWN
            self._reap(container)
            return container.state

    @staticmethod
    def _reap(container: Container) -> None:
        if container.state is _S.EXITED:
            container.state = _S.STOPPED

    # ---- create ------------------------------------------------------------------------------
    def create(self, spec: ContainerSpec, *, runtime: str | None = None) -> Container:
        """Validate, load and parse the module now (bad input fails here), → CREATED."""
        if runtime is not None and runtime not in RUNTIMES:
            raise InvalidInput.field(None, "runtime", runtime, f"one of {', '.join(RUNTIMES)}")
        spec = spec.validated()
        spec.make_mount_dirs()
        module_path = spec.module_path or self.images_dir / spec.image
        epochs = self.interruptible or bool(spec.timeout or spec.cpu_budget)
        engine = new_engine(interruptible=epochs)
        module, info = self.module_cache.load(engine, module_path, interruptible=epochs)
        with self._lock:
            if spec.name is not None:
                if spec.name in self._containers:
                    raise Conflict(f"container ID '{spec.name}' is already in use")
                cid = spec.name
            else:
                taken = _Taken(self._containers, self.containers_dir)
                cid = generate_id(taken)
            container = Container(cid, spec, module_path, engine, module, info)
            self._containers[cid] = container
        log.debug("created container %s from %s", cid, module_path)
        return container

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self, container_id: str) -> Container:
        """CREATED/STOPPED → RUNNING; returns once the container can be killed."""
        with self._lock:
            c = self.get(container_id)
            self._reap(c)
            if c.state not in (_S.CREATED, _S.STOPPED, _S.ERROR):
                raise Conflict(
                    f"container {c.id} is {c.state.name.lower()}; only created or stopped can start"
                )
            if c.started_at is not None:
                c.restart_count += 1
            c.state = _S.RUNNING
            c.launch(RunContext(self._session_for, self.containers_dir / c.id, self._exited))
            if c.spec.cpu_budget:
                self._watch_budgets()
        return c

    def run(self, spec: ContainerSpec, *, runtime: str | None = None) -> Container:
        """Create, start and wait (an attached run). Ctrl-C kills the container and re-raises."""
        container = self.create(spec, runtime=runtime)
        self.start(container.id)
        try:
            self.wait(container.id)
        except KeyboardInterrupt:
            container.control.kill()
            container.wait_done(5 if self.interruptible else 0.1)
            raise
        return container

    def wait(self, container_id: str, timeout: float | None = None) -> int | None:
        """Block until the container ends and return its exit code (spec 5; ERROR raises)."""
        c = self.get(container_id)
        if c.state in (_S.UNKNOWN, _S.CREATED):
            raise Conflict(f"container {c.id} was never started; nothing to wait for")
        if not c.wait_done(timeout):
            raise ContainerError(f"container {c.id} still running after {timeout} s")
        with self._lock:
            self._reap(c)
        if c.state is _S.ERROR:
            raise ContainerError(f"container {c.id} failed to start: {c.error}")
        return c.exit_code

    def kill(self, container_id: str, reason: str = "killed") -> Container:
        c = self.get(container_id)
        if c.state not in (_S.RUNNING, _S.PAUSED):
            raise Conflict(f"container {c.id} is not running")
        c.control.kill(reason)
        return c

    def stop(self, container_id: str, grace: float = 10.0) -> Container:
        """Ask the container to finish (its next ``ocre_sleep`` returns -EINTR, stdin ends), then kill."""
        c = self.get(container_id)
        if c.state not in (_S.RUNNING, _S.PAUSED):
            raise Conflict(f"container {c.id} is not running")
        if c.state is _S.PAUSED:
            self.unpause(c.id)
        c.control.request_stop()
        if not c.wait_done(grace):
            c.control.kill()
            c.wait_done()
        with self._lock:
            self._reap(c)
        return c

    def pause(self, container_id: str) -> Container:
        with self._lock:
            c = self.get(container_id)
            if c.state is not _S.RUNNING:
                raise Conflict(f"container {c.id} is not running")
            c.control.pause()
            c.state = _S.PAUSED
        return c

    def unpause(self, container_id: str) -> Container:
        with self._lock:
            c = self.get(container_id)
            if c.state is not _S.PAUSED:
                raise Conflict(f"container {c.id} is not paused")
            c.state = _S.RUNNING
            c.control.unpause()
        return c

    def remove(self, container_id: str, *, keep_data: bool = False) -> None:
        """STOPPED/CREATED/ERROR only; deletes ``<wd>/containers/<id>/`` unless ``keep_data``."""
        with self._lock:
            c = self.get(container_id)
            self._reap(c)
            if c.state not in (_S.STOPPED, _S.CREATED, _S.ERROR):
                raise Conflict(f"container {c.id} is {c.state.name.lower()}; stop it before removing it")
            del self._containers[c.id]
        if not keep_data:
            shutil.rmtree(self.containers_dir / c.id, ignore_errors=True)

    # ---- messaging from the host -------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, content_type: str = "text/plain") -> int:
        return self.broker.publish(topic.encode(), content_type.encode(), payload)

    def subscribe(self, prefix: str, callback: Callable[[Message], None]) -> int:
        return self.broker.subscribe_host(prefix, callback)

    # ---- internals ---------------------------------------------------------------------------
    def _session_for(self, container: Container) -> Session:
        return Session(
            container.id, set(container.spec.capabilities), container.control,
            broker=self.broker, devices=self.devices, timer_service=self.timers,
            queue_size=self.event_queue_size,
        )  # fmt: skip

    def _exited(self, container: Container) -> None:
        if self._on_exit is not None:
            try:
                self._on_exit(container)
            except Exception:
                log.exception("exit hook failed for container %s", container.id)

    def _watch_budgets(self) -> None:
        if self._budget_thread is None:
            self._budget_thread = threading.Thread(target=self._budget_loop, name="ocre-cpu", daemon=True)
            self._budget_thread.start()

    def _budget_loop(self) -> None:
        """Kill containers whose guest thread used more CPU time than ``--cpu-budget`` allows."""
        while not self._closed:
            time.sleep(0.02)
            with self._lock:
                running = [
                    c for c in self._containers.values() if c.state is _S.RUNNING and c.spec.cpu_budget
                ]
            for c in running:
                thread = c.thread
                if thread is None or thread.ident is None or not thread.is_alive():
                    continue
                with contextlib.suppress(OSError, ProcessLookupError):
                    used = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
                    if used > (c.spec.cpu_budget or 0):
                        c.control.kill("cpu-budget")

    def close(self) -> None:
        """Kill what runs, forget every container (their directories stay: spec D7), release the lock."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            containers = list(self._containers.values())
            self._containers.clear()
        for c in containers:
            c.control.kill()
        for c in containers:
            c.wait_done(5)
        self.timers.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Taken:
    """IDs in use: live containers and data directories left by earlier runs."""

    def __init__(self, containers: dict[str, Container], data_dir: Path) -> None:
        self._containers, self._data_dir = containers, data_dir

    def __contains__(self, cid: object) -> bool:
        return cid in self._containers or (self._data_dir / str(cid)).exists()
