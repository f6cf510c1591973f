"""Which imports each target serves: the ``env`` function table of ocre-api.md 2.2, with its gates.

A module's imports decide the Ocre features it needs (its "API profile"); a target profile is the
set of features a runtime provides. The Linux runtime serves every gate (GPIO and sensors from
simulated devices); a Zephyr build serves what its Kconfig enables, so a board can narrow it.
Checking is by name so the error can list exactly what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocre_py.errors import ImageError, InvalidInput
from ocre_py.image.wamr import OCRE_CORE
from ocre_py.image.wasm import WasmModule, scan_code

# Gate letters of the spec, spelled as the feature names users see.
ALWAYS, EVENTS = "always", "events"
TIMERS, MESSAGING, GPIO, SENSORS = "timers", "messaging", "gpio", "sensors"
SHARED_HEAP, NETWORKING, FILESYSTEM = "shared_heap", "networking", "filesystem"
FEATURES = (TIMERS, MESSAGING, GPIO, SENSORS, SHARED_HEAP, NETWORKING, FILESYSTEM)


def _names(prefix: str, words: str) -> tuple[str, ...]:
    return tuple(prefix + w for w in words.split())


_GATED: dict[str, tuple[str, ...]] = {
    ALWAYS: ("uname", "ocre_sleep"),
    EVENTS: ("ocre_get_event", "ocre_register_dispatcher"),
    TIMERS: _names("ocre_timer_", "create start stop delete get_remaining"),
    MESSAGING: ("ocre_subscribe_message", "ocre_publish_message", "ocre_messaging_free_module_event_data"),
    GPIO: _names(
        "ocre_gpio_",
        """init configure pin_set pin_get pin_toggle register_callback unregister_callback
        configure_by_name set_by_name get_by_name toggle_by_name register_callback_by_name
        unregister_callback_by_name""",
    ),
    SENSORS: _names(
        "ocre_sensors_",
        """init discover open get_handle get_channel_count get_channel_type read open_by_name
        get_handle_by_name get_channel_count_by_name get_channel_type_by_name read_by_name get_list""",
    ),
    SHARED_HEAP: ("shared_heap_malloc", "shared_heap_free"),
}
#: ``env`` function name → the feature that registers it.
ENV_FUNCTIONS: dict[str, str] = {fn: gate for gate, fns in _GATED.items() for fn in fns}

WASI_PREVIEW1 = frozenset(
    _names(
        "",
        """args_get args_sizes_get environ_get environ_sizes_get clock_res_get clock_time_get fd_advise
        fd_allocate fd_close fd_datasync fd_fdstat_get fd_fdstat_set_flags fd_fdstat_set_rights
        fd_filestat_get fd_filestat_set_size fd_filestat_set_times fd_pread fd_prestat_get
        fd_prestat_dir_name fd_pwrite fd_read fd_readdir fd_renumber fd_seek fd_sync fd_tell fd_write
        path_create_directory path_filestat_get path_filestat_set_times path_link path_open path_readlink
        path_remove_directory path_rename path_symlink path_unlink_file poll_oneoff proc_exit proc_raise
        sched_yield random_get sock_accept sock_recv sock_send sock_shutdown""",
    )
)
#: WAMR's non-standard socket calls, imported from ``wasi_snapshot_preview1`` (networking only).
WAMR_SOCKETS_PREFIX = "sock_"
WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")


@dataclass(frozen=True)
class Profile:
    """A target: its name and the Ocre features it provides."""

    name: str
    features: frozenset[str]
    wamr_sockets: bool = False  # WAMR's socket extensions (Zephyr with networking)

    def provides(self, feature: str) -> bool:
        if feature == ALWAYS:
            return True
        if feature == EVENTS:
            return bool(self.features & {TIMERS, MESSAGING, GPIO, SENSORS})
        return feature in self.features


def profile(target: str, *, features: list[str] | tuple[str, ...] | None = None) -> Profile:
    """``linux``, ``zephyr`` or ``zephyr:timers,messaging``; ``features`` (a board's) narrows Zephyr."""
    name, _, listed = target.partition(":")
    if name == "linux":
        if listed or features:
            raise InvalidInput.field(None, "target", target, "plain 'linux' (it serves every feature)")
        return Profile("linux", frozenset(FEATURES) - {NETWORKING})
    if name != "zephyr":
        raise InvalidInput.field(None, "target", target, "'linux', 'zephyr' or 'zephyr:FEATURE,...'")
    chosen = [f for f in listed.split(",") if f] if listed else list(features or FEATURES)
    for f in chosen:
        if f not in FEATURES:
            raise InvalidInput.field(None, "feature", f, f"one of {', '.join(FEATURES)}")
    return Profile(target if listed else "zephyr", frozenset(chosen), wamr_sockets=NETWORKING in chosen)


def required_features(module: WasmModule) -> list[str]:
    """The Ocre features a module's imports need, in table order (its "API profile")."""
    needed = set()
    for imp in module.function_imports:
        if imp.module == "env" and imp.name in ENV_FUNCTIONS:
            needed.add(ENV_FUNCTIONS[imp.name])
        elif imp.module in WASI_MODULES and imp.name not in WASI_PREVIEW1:
            needed.add(NETWORKING)
    order = [ALWAYS, EVENTS, *FEATURES]
    return [f for f in order if f in needed]


def unsupported_imports(module: WasmModule, target: Profile) -> list[str]:
    """Every import ``target`` cannot serve, as ``module.name`` (sorted, for a stable message)."""
    missing = []
    for imp in module.imports:
        if imp.kind == "memory" and imp.module == "env":
            continue
        if imp.kind == "func" and imp.module == "env" and imp.name in ENV_FUNCTIONS:
            ok = target.provides(ENV_FUNCTIONS[imp.name])
        elif imp.kind == "func" and imp.module in WASI_MODULES:
            if imp.name in WASI_PREVIEW1:
                ok = True
            else:
                ok = target.wamr_sockets and imp.name.startswith(WAMR_SOCKETS_PREFIX)
        else:
            ok = False
        if not ok:
            missing.append(imp.qualified)
    return sorted(missing)


def check_module(module: WasmModule, target: Profile, *, source: str) -> None:
    """Raise :class:`ImageError` listing every import ``target`` cannot serve."""
    missing = unsupported_imports(module, target)
    if missing:
        raise ImageError(
            f"{source}: imports not supported by target {target.name}: {', '.join(missing)}",
            hint="enable the matching Ocre features on the target, or remove the calls",
        )


def check_memory(module: WasmModule, budget: int, *, source: str) -> None:
    """Raise :class:`ImageError` when the module's initial memory does not fit ``budget`` bytes."""
    need = module.memory.min_bytes if module.memory else 0
    if need > budget:
        raise ImageError(
            f"{source}: needs {need} bytes of linear memory at start, more than the RAM budget of {budget}",
            hint="lower the module's initial memory (--initial-memory) or raise the budget",
        )


def check_code(data: bytes, target: Profile, *, source: str) -> None:
    """A Zephyr target also needs a module the Ocre core's WAMR loads (no SIMD, threads...):
    raise :class:`ImageError` naming the WAMR option otherwise. Linux (wasmtime) loads them all."""
    if target.name.startswith("zephyr"):
        OCRE_CORE.require_loadable(scan_code(data, source=source), source=source)
