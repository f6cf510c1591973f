"""A container: a loaded module plus the state of its runs (spec section 5).

Each run happens on the container's own thread in a fresh ``Store``; the thread ends the run in
EXITED (with an exit code) or ERROR (instantiation failed, spec D6), and releases everything the
run held.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime

from ocre_py.runtime import stdio
from ocre_py.runtime.allocator import ExportedAllocator, RegionAllocator
from ocre_py.runtime.control import ContainerKilled, Control
from ocre_py.runtime.engine import ModuleInfo
from ocre_py.runtime.guestmem import GuestMemory, GuestTrap
from ocre_py.runtime.host_api import OcreEnv, define_unresolved
from ocre_py.runtime.session import Session
from ocre_py.runtime.sockets import AddrPool
from ocre_py.runtime.spec import CAP_FILESYSTEM, CAP_NETWORKING, CAP_SHARED_HEAP, ContainerSpec
from ocre_py.runtime.state import EXIT_CPU_BUDGET, EXIT_KILLED, EXIT_TIMEOUT, EXIT_TRAPPED, ContainerState
from ocre_py.runtime.wasi_net import WasiNet

log = logging.getLogger(__name__)
PAGE = 65536
KILL_EXIT_CODES = {"killed": EXIT_KILLED, "timeout": EXIT_TIMEOUT, "cpu-budget": EXIT_CPU_BUDGET}


@dataclass
class RunContext:
    """What the runtime lends a run: shared services and where the container's data lives."""

    make_session: Callable[[Container], Session]
    data_dir: Path
    on_exit: Callable[[Container], None]


class Container:
    def __init__(
        self,
        container_id: str,
        spec: ContainerSpec,
        module_path: Path,
        engine: wasmtime.Engine,
        module: wasmtime.Module,
        info: ModuleInfo,
    ) -> None:
        self.id = container_id
        self.spec = spec
        self.module_path = module_path
        self.info = info
        self._engine = engine
        self._module = module
        self.control = Control(engine)
        self.state = ContainerState.CREATED
        self.exit_code: int | None = None
        self.error: str | None = None
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.restart_count = 0
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._done.set()
        self.session: Session | None = None
        self._env = OcreEnv()
        self._entry: wasmtime.Func | None = None
        self._net = WasiNet(_addr_pool(spec))
        self._linker = self._build_linker()

    def _build_linker(self) -> wasmtime.Linker:
        """Everything a run links against that does not depend on the run, built once at create time:
        WASI, our ``proc_exit``, the ``env`` functions the module imports, and trap stubs for the rest.
        Shadowing stays allowed so each run can define its own ``env.memory``."""
        linker = wasmtime.Linker(self._engine)
        linker.define_wasi()
        linker.allow_shadowing = True
        self.networking = self._net.define(linker, self._engine, self.info.function_imports)
        exit_type = wasmtime.FuncType([wasmtime.ValType.i32()], [])  # types are per engine
        linker.define_func("wasi_snapshot_preview1", "proc_exit", exit_type, _proc_exit)
        self._env.define(linker, self.info.function_imports)
        self.unresolved_imports = define_unresolved(linker, wasmtime.Store(self._engine), self._module)
        return linker

    @property
    def image(self) -> str:
        return self.spec.image

    @property
    def argv(self) -> list[str]:
        """WASI argv: argv[0] is the image path (spec 1.1), then the user's arguments."""
        return [str(self.module_path), *self.spec.args]

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "image": self.image,
            "image_path": str(self.module_path),
            "digest": f"sha256:{self.info.digest}",
            "status": self.state.name,
            "state": int(self.state),
            "exit_code": self.exit_code,
            "error": self.error,
            "args": list(self.spec.args),
            "env": list(self.spec.env),
            "capabilities": list(self.spec.capabilities),
            "mounts": [str(m) for m in self.spec.mounts],
            "memory_limit": self.spec.memory_limit,
            "addr_pool": list(self.spec.addr_pool),
            "detached": self.spec.detached,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "restart_count": self.restart_count,
            "unresolved_imports": self.unresolved_imports,
        }

    # ---- run ---------------------------------------------------------------------------------
    def launch(self, ctx: RunContext) -> None:
        """Start a run on a new thread; the caller has already set the state to RUNNING."""
        self.control.reset()
        self.exit_code = self.error = None
        self.started_at, self.finished_at = time.time(), None
        self._done.clear()
        self._thread = threading.Thread(target=self._run, args=(ctx,), name=f"ocre-{self.id}", daemon=True)
        self._thread.start()

    def wait_done(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def _run(self, ctx: RunContext) -> None:
        session = ctx.make_session(self)
        self.session = session
        feed: stdio.StdinFeed | None = None
        timer: threading.Timer | None = None
        state, error = ContainerState.EXITED, None
        code: int | None = 0
        store: wasmtime.Store | None = None
        try:
            try:
                store, instance, feed = self._instantiate(ctx, session)
            except (wasmtime.WasmtimeError, wasmtime.Trap, OSError, GuestTrap) as exc:
                state, code, error = ContainerState.ERROR, None, _first_line(exc)
                log.info("container %s failed to start: %s", self.id, error)
                return
            if self.spec.timeout:
                timer = threading.Timer(self.spec.timeout, self.control.kill, ("timeout",))
                timer.daemon = True
                timer.start()
            code = self._call_entry(store, instance)
        finally:
            if timer:
                timer.cancel()
            if feed:
                feed.close()
            self.control.on_interrupt = None
            self._entry = self._env.s = None  # type: ignore[assignment]  # let the run's store go
            self._net.detach()  # closes the run's sockets
            session.close()
            self.session = None
            if store is not None:
                # A trap's traceback keeps this frame (and the store) in a reference cycle until the
                # cyclic GC runs; closing frees the linear memory now (a 32 MiB bomb, not "later").
                store.close()
            self.state, self.exit_code = state, code
            if error is not None:
                self.error = error
            self.finished_at = time.time()
            ctx.on_exit(self)
            self._done.set()

    def _instantiate(
        self, ctx: RunContext, session: Session
    ) -> tuple[wasmtime.Store, wasmtime.Instance, stdio.StdinFeed | None]:
        spec, info = self.spec, self.info
        store = wasmtime.Store(self._engine)
        store.set_epoch_deadline(1)  # ignored by engines compiled without epoch checks
        if spec.memory_limit:
            store.set_limits(memory_size=spec.memory_limit)
        wasi = wasmtime.WasiConfig()
        wasi.argv = self.argv
        wasi.env = [tuple(e.split("=", 1)) for e in spec.env]
        if CAP_FILESYSTEM in spec.capabilities:
            ctx.data_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
            wasi.preopen_dir(str(ctx.data_dir), "/")
        for mount in spec.mounts:
            if not mount.host.is_dir():
                raise OSError(f"mount {mount}: host directory {mount.host} does not exist")
            wasi.preopen_dir(str(mount.host), mount.guest)
        if CAP_SHARED_HEAP in spec.capabilities:
            log.warning("container %s: ocre:shared_heap is not available on Linux; allocations fail", self.id)
        feed = stdio.configure(wasi, spec.stdin, spec.stdout, spec.stderr)
        self.control.on_interrupt = feed.close if feed else None
        try:
            store.set_wasi(wasi)
            linker = self._linker
            self._env.s = session
            region = None
            if info.imports_memory:
                lo, hi = info.imports_memory
                grow = 0 if info.exports_allocator or (hi is not None and hi <= lo) else 1
                imported = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(lo + grow, hi)))
                linker.define(store, "env", "memory", imported)
                region = (lo * PAGE, PAGE) if grow else None
            instance = linker.instantiate(store, self._module)
        except BaseException:
            if feed:
                feed.close()
            raise
        exports = instance.exports(store)
        entry, memory = exports[info.entry], exports["memory"]
        assert isinstance(entry, wasmtime.Func) and isinstance(memory, wasmtime.Memory)
        self._entry = entry
        session.memory = GuestMemory(memory)
        if self.networking:
            self._net.attach(store, memory, self.control.checkpoint)
        if info.exports_allocator:
            malloc, free = exports["malloc"], exports["free"]
            assert isinstance(malloc, wasmtime.Func) and isinstance(free, wasmtime.Func)
            session.allocator = ExportedAllocator(malloc, free)
        else:
            if region is None and not info.imports_memory:
                old = memory.grow(store, 1) if _can_grow(memory.type(store)) else -1
                region = (old * PAGE, PAGE) if old >= 0 else None
            if region is not None:
                session.allocator = RegionAllocator(*region)
        return store, instance, feed

    def _call_entry(self, store: wasmtime.Store, instance: wasmtime.Instance) -> int:
        entry = self._entry
        assert isinstance(entry, wasmtime.Func)
        try:
            self.control.checkpoint()  # a kill that raced with start-up
            if self.info.entry == "__main_argc_argv":
                entry(store, 0, 0)
            else:
                entry(store)
            code = 0
        except ContainerExit as exc:
            code = exc.code
        except wasmtime.ExitTrap as exc:
            code = _signed(exc.code)
        except ContainerKilled:
            code = EXIT_KILLED
        except (wasmtime.Trap, wasmtime.WasmtimeError, GuestTrap) as exc:
            if self.control.kill_reason is None:
                message = _trap_text(exc)
                self.error = message.splitlines()[0]
                stdio.write_to(self.spec.stderr, f"ocre: container {self.id} trapped: {message}\n")
                log.info("container %s trapped: %s", self.id, self.error)
                return EXIT_TRAPPED
            code = EXIT_KILLED
        # A killed container reports the kill's code even if it managed to finish (e.g. on stdin EOF).
        reason = self.control.kill_reason
        return code if reason is None else KILL_EXIT_CODES.get(reason, EXIT_KILLED)


class ContainerExit(Exception):
    """Raised by our ``proc_exit``: wasmtime's own refuses statuses outside 0..125, upstream allows any."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _addr_pool(spec: ContainerSpec) -> AddrPool:
    """Without ``networking`` the pools are empty: every bind, connect, send_to and name lookup
    answers EACCES, as upstream does for a module without an address pool."""
    if CAP_NETWORKING not in spec.capabilities:
        return AddrPool()
    return AddrPool.of(spec.addr_pool or ("0.0.0.0/0", "::/0"), ("*",))


def _proc_exit(code: int) -> None:
    raise ContainerExit(_signed(code))


def _can_grow(ty: wasmtime.MemoryType) -> bool:
    return ty.limits.max is None or ty.limits.max > ty.limits.min


def _signed(code: int) -> int:
    code &= 0xFFFFFFFF
    return code - (1 << 32) if code >= 1 << 31 else code


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_FRAME = re.compile(r"^\d+:\s+0x[0-9a-f]+ - ")
MAX_FRAMES = 12


def _trap_text(exc: BaseException) -> str:
    """``wasm trap: <reason>`` first, then up to 12 frames of wasmtime's backtrace."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    traps = [ln[ln.index("wasm trap:") :] for ln in lines if "wasm trap:" in ln]
    frames = [ln for ln in lines if _FRAME.match(ln)]
    if traps:
        reason = traps[-1]
    else:
        rest = [
            ln
            for ln in lines
            if not _FRAME.match(ln) and not ln.startswith(("error while", "Caused by", "note:"))
        ]
        reason = rest[-1] if rest else type(exc).__name__
    shown = ["  " + f for f in frames[:MAX_FRAMES]]
    if len(frames) > MAX_FRAMES:
        shown.append(f"  ... {len(frames) - MAX_FRAMES} more frames")
    return "\n".join([reason, *shown])
