"""The tiny profile's view of a board and of what its firmware serves.

The full firmware (Ocre core + WAMR + littlefs + POSIX + networking) needs several hundred KB of RAM
(zephyr.md 6.3). The tiny firmware (``zephyr_app/src/tiny/``) is WAMR's classic interpreter with a
small global heap pool, our own natives for a documented subset of the Ocre API, and containers read
in place from a flash bundle (:mod:`ocre_py.zephyr.storage.bundle`). Fixed costs are estimates until
measured on a real build; each says where its number comes from (docs/tiny.md has the measured ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ocre_py.errors import DeployError
from ocre_py.image.tiny_module import TinyModule
from ocre_py.zephyr.board.database import Board

KIB = 1024
MAX_POOL = 256 * KIB

#: What the tiny firmware serves (zephyr_app/src/tiny/natives.c, wasi.c). Anything else is refused at
#: deploy: WAMR would instantiate the module and trap only when the call is reached.
TINY_ENV = frozenset(
    {
        "ocre_sleep",
        "ocre_get_event",
        "ocre_register_dispatcher",
        "ocre_timer_create",
        "ocre_timer_start",
        "ocre_timer_stop",
        "ocre_timer_delete",
        "ocre_timer_get_remaining",
        "ocre_messaging_free_module_event_data",  # no-op: imported by the SDK's ocre_process_events()
    }
)
TINY_WASI = frozenset(
    {
        "args_get",
        "args_sizes_get",
        "environ_get",
        "environ_sizes_get",
        "fd_write",
        "fd_close",
        "fd_fdstat_get",
        "fd_seek",
        "proc_exit",
        "clock_time_get",
        "sched_yield",
    }
)
WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")


@dataclass(frozen=True)
class TinyTarget:
    """A board as the tiny profile sees it: flash and RAM, the bundle partition, the fixed costs.

    ``bundle_addr`` is absolute (memory-mapped flash). Fixed costs are estimates until measured on a
    real build; ``origin`` strings say where each number comes from.
    """

    board: str
    flash_size: int
    ram_size: int
    bundle_addr: int
    bundle_size: int
    qemu_machine: str | None = None
    kernel_flash: int = 16 * KIB  # Zephyr kernel + UART console + printk, Cortex-M3, no logging
    wamr_flash: int = 57_651  # WAMR classic interpreter ≈56.3K text (WAMR README, Cortex-M4F)
    app_flash: int = 6 * KIB  # bundle.c 1.5K + sha256.c 0.9K (arm-none-eabi-gcc -Os) + natives + main
    kernel_ram: int = 6 * KIB  # kernel data/bss, idle thread, UART driver
    isr_stack: int = 2 * KIB  # CONFIG_ISR_STACK_SIZE default
    main_stack: int = 4 * KIB  # CONFIG_MAIN_STACK_SIZE in tiny.conf: WAMR runs on main
    timer_ram: int = 1 * KIB  # 8 timers + 16-entry event queue (natives.c)
    wasm_stack: int = 4 * KIB  # wasm operand/frame stack passed to wasm_runtime_instantiate
    erase_block: int = 1024  # LM3S6965 flash page; only used to align the partition
    flash_base: int = 0
    origin: str = "estimate"

    @property
    def code_size(self) -> int:
        """Flash the firmware may use: everything below the bundle partition."""
        return self.bundle_addr - self.flash_base

    @property
    def pool_size(self) -> int:
        """The WAMR global heap pool: whatever RAM the kernel and stacks leave, in whole KiB, at most
        :data:`MAX_POOL` (a tiny firmware on a big board still gets a small pool)."""
        rest = self.ram_size - self.kernel_ram - self.isr_stack - self.main_stack - self.timer_ram
        return max(0, min(MAX_POOL, rest // KIB * KIB))


#: qemu_cortex_m3 = TI LM3S6965: 256 KB flash at 0x0 (no flash driver), 64 KB SRAM. The bundle takes
#: the top 64 KiB of flash (0x30000..0x3FFFF): the firmware keeps 192 KiB, enough for kernel + WAMR
#: (≈80 KiB) with room to spare, and 64 KiB is the largest power-of-two region that leaves that much.
#: The tiny overlay (zephyr_app/src/tiny/boards/qemu_cortex_m3.overlay) declares exactly this split.
QEMU_CORTEX_M3 = TinyTarget(
    board="qemu_cortex_m3",
    flash_size=256 * KIB,
    ram_size=64 * KIB,
    bundle_addr=0x30000,
    bundle_size=0x10000,
    qemu_machine="lm3s6965evb",
)
TARGETS: dict[str, TinyTarget] = {QEMU_CORTEX_M3.board: QEMU_CORTEX_M3}


def target_for(
    board: str, *, flash_size: int | None = None, ram_size: int | None = None, flash_base: int = 0
) -> TinyTarget:
    """The tiny view of ``board``. Boards without a built-in entry get a bundle in the top quarter
    of their flash (at most 256 KiB), given their sizes from the board database."""
    if board in TARGETS:
        return TARGETS[board]
    if not flash_size or not ram_size:
        raise DeployError(
            f"board '{board}': the tiny profile needs its flash and RAM sizes",
            hint="add the board to the board database (boards.yaml) with flash and ram",
        )
    size = min(256 * KIB, flash_size // 4)
    return TinyTarget(
        board, flash_size, ram_size, bundle_addr=flash_base + flash_size - size, bundle_size=size,
        flash_base=flash_base,
    )  # fmt: skip


def unserved_imports(module: TinyModule) -> list[str]:
    """The module's imports the tiny firmware does not serve, as ``module.name``."""
    out = []
    for mod, name in module.imports:
        if (mod == "env" and name in TINY_ENV) or (mod in WASI_MODULES and name in TINY_WASI):
            continue
        out.append(f"{mod}.{name}")
    return out


BUNDLE_LABEL = "ocre_bundle_partition"


def tiny_target(board: Board) -> TinyTarget:
    """The tiny view of a board database entry (the built-in entry, else one from its sizes)."""
    if board.name in TARGETS:
        return TARGETS[board.name]
    return target_for(
        board.name, flash_size=board.flash.size, ram_size=board.ram, flash_base=board.flash.base
    )


TINY_BOARDS_DIR = Path(__file__).resolve().parents[3] / "zephyr_app" / "src" / "tiny" / "boards"
