"""Engines and the compiled-module cache.

Each container gets its own ``wasmtime.Engine`` (≈30 KB): epochs are per engine, so bumping one
container's epoch interrupts that container and no other — that is how kill, ``--timeout`` and
``--cpu-budget`` stop compute-bound code. All engines share one configuration, so a module compiled
once can be serialized to the cache and deserialized (≈0.1 ms) into any container's engine; a second
run of the same module never recompiles. The cache is keyed by the module's SHA-256, the wasmtime
version and the configuration; a stale or corrupt entry is recompiled and replaced.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from ocre_py.errors import InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.workdir import cache_dir

log = logging.getLogger(__name__)

WASM_MAGIC = b"\0asm"


def _engine_fingerprint() -> str:
    """Identify the wasmtime library without importlib.metadata (≈90 ms of start-up)."""
    lib_dir = Path(wasmtime.__file__).parent
    libs = sorted(lib_dir.glob("*/*wasmtime*.so")) + sorted(lib_dir.glob("*/*wasmtime*.dylib"))
    if not libs:
        return "unknown"
    st = libs[0].stat()
    return hashlib.sha256(f"{libs[0].name}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]


_ENGINE_ID = _engine_fingerprint()
ENTRY_POINTS = ("_start", "main", "__main_argc_argv", "_main")


def new_engine(*, interruptible: bool = True) -> wasmtime.Engine:
    """An engine for one container; ``interruptible`` adds epoch checks (kill, --timeout, --cpu-budget).

    Without them compute-bound code runs 15–30 % faster, but only a process exit stops it: fit for an
    attached ``ocre run`` with no limits, where Ctrl-C ends the process anyway.
    """
    config = wasmtime.Config()
    config.epoch_interruption = interruptible
    return wasmtime.Engine(config)


@dataclass(frozen=True)
class ModuleInfo:
    """What the runtime needs to know about a module before instantiating it."""

    digest: str
    size: int
    entry: str
    imports_memory: tuple[int, int | None] | None  # (min pages, max pages) of an imported env.memory
    exports_memory: bool
    exports_allocator: bool
    function_imports: tuple[tuple[str, str], ...]


class ModuleCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or cache_dir()) / "modules"

    def _path(self, digest: str, interruptible: bool) -> Path:
        return self.directory / f"{digest}-{_ENGINE_ID}-epoch{int(interruptible)}.cwasm"

    def load(
        self, engine: wasmtime.Engine, path: Path, *, interruptible: bool = True
    ) -> tuple[wasmtime.Module, ModuleInfo]:
        """Load ``path`` into ``engine`` (from the cache when possible) and describe it.

        ``interruptible`` must match the engine's configuration: compiled code differs.
        """
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InvalidInput.field(None, "module", str(path), "an existing .wasm file") from None
        except IsADirectoryError:
            raise InvalidInput.field(None, "module", str(path), "a .wasm file, not a directory") from None
        if data[:4] != WASM_MAGIC:
            raise InvalidInput(f"{path}: not a WebAssembly module (no \\0asm header)")
        digest = hashlib.sha256(data).hexdigest()
        cached = self._path(digest, interruptible)
        module = None
        if cached.exists():
            try:
                module = wasmtime.Module.deserialize_file(engine, str(cached))
            except wasmtime.WasmtimeError as exc:
                log.debug("discarding stale cache entry %s: %s", cached, exc)
                cached.unlink(missing_ok=True)
        if module is None:
            try:
                module = wasmtime.Module(engine, data)
            except wasmtime.WasmtimeError as exc:
                reason = str(exc).strip().splitlines()[0]
                raise InvalidInput(f"{path}: malformed WebAssembly module: {reason}") from None
            try:
                atomic_write(cached, module.serialize())
            except OSError as exc:  # a read-only cache only costs speed
                log.debug("cannot cache compiled module in %s: %s", self.directory, exc)
        return module, describe(module, path, digest, len(data))


def describe(module: wasmtime.Module, path: Path, digest: str, size: int) -> ModuleInfo:
    exports = {e.name: e.type for e in module.exports}
    entry = next((n for n in ENTRY_POINTS if isinstance(exports.get(n), wasmtime.FuncType)), None)
    if entry is None:
        raise InvalidInput(f"{path}: no _start export: not a WASI command module")
    imported_memory = None
    functions = []
    for imp in module.imports:
        if isinstance(imp.type, wasmtime.MemoryType):
            if (imp.module, imp.name) != ("env", "memory"):
                raise InvalidInput(
                    f"{path}: imports memory {imp.module}.{imp.name}; only env.memory is provided"
                )
            limits = imp.type.limits
            imported_memory = (limits.min, limits.max)
        elif isinstance(imp.type, wasmtime.FuncType):
            functions.append((imp.module, imp.name or ""))
    exports_memory = isinstance(exports.get("memory"), wasmtime.MemoryType)
    if imported_memory and not exports_memory:
        raise InvalidInput(
            f"{path}: imports env.memory without exporting it; WASI needs the memory exported",
            hint="link with --import-memory --export-memory (clang ≥ 15), or use module-defined memory",
        )
    if not imported_memory and not exports_memory:
        raise InvalidInput(f"{path}: exports no memory; a WASI command module must export 'memory'")
    allocator = all(isinstance(exports.get(n), wasmtime.FuncType) for n in ("malloc", "free"))
    return ModuleInfo(digest, size, entry, imported_memory, exports_memory, allocator, tuple(functions))
