"""RAM and flash budget of a WAMR + Ocre firmware on a board, checked before anything is built.

The numbers are estimates (documented per component below, from WAMR's README footprint table and
Ocre's Kconfig defaults); the point is to refuse builds that cannot possibly fit, with the
numbers, before a 10-minute compile does it with a linker error. :func:`estimate_budget` returns a
:class:`Budget` the CLI prints, ``--json`` dumps and the tiny-profile work extends (pass other
estimate tables); :meth:`Budget.check` raises.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ocre_py.errors import BuildError
from ocre_py.units import format_size
from ocre_py.zephyr.board.database import Board
from ocre_py.zephyr.project.config import OcreConfig

K = 1024

#: Flash (ROM) estimate per component, bytes. WAMR numbers: its README, Cortex-M4F text sizes.
ROM_ESTIMATES: dict[str, int] = {
    "wamr-fast-interp": 59 * K,
    "wamr-libc-wasi": 22 * K,
    "wamr-aot": 30 * K,  # only with features.aot
    "ocre-core": 40 * K,
    "kernel+libc+drivers": 64 * K,
    "littlefs+fs": 24 * K,
    "networking": 96 * K,  # only with features.networking
    "shell": 32 * K,  # only with features.shell
    "app": 4 * K,
}
#: Fixed RAM estimate per component, bytes (sizes that come from config are added separately).
RAM_ESTIMATES: dict[str, int] = {
    "kernel+drivers": 16 * K,
    "ocre-core": 16 * K,
    "ocre-system-heap": 32 * K,  # HEAP_MEM_POOL_ADD_SIZE_OCRE default
    "main-stack": 8 * K,
    "networking": 48 * K,  # only with features.networking (buffers + stacks)
    "shell": 8 * K,  # only with features.shell
}
#: One WebAssembly linear-memory page: the least a container can run in.
WASM_PAGE = 64 * K


@dataclass
class Budget:
    """The estimate for one board + config: items, totals, capacities and what does not fit."""

    board: str
    ram_items: dict[str, int] = field(default_factory=dict)
    rom_items: dict[str, int] = field(default_factory=dict)
    ram_capacity: int | None = None  # None: host process (native_sim), not budgeted
    rom_capacity: int | None = None
    problems: list[str] = field(default_factory=list)
    suggestion: str | None = None

    @property
    def ram_total(self) -> int:
        return sum(self.ram_items.values())

    @property
    def rom_total(self) -> int:
        return sum(self.rom_items.values())

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self) -> Budget:
        """Raise :class:`BuildError` with the numbers when the firmware cannot fit; else self."""
        if self.problems:
            raise BuildError(f"{self.board}: " + "; ".join(self.problems), hint=self.suggestion)
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(ram_total=self.ram_total, rom_total=self.rom_total, ok=self.ok)
        return d


def estimate_budget(
    board: Board,
    config: OcreConfig,
    *,
    rom_estimates: dict[str, int] | None = None,
    ram_estimates: dict[str, int] | None = None,
) -> Budget:
    """Estimate RAM and flash for ``config`` on ``board`` and list every limit it breaks."""
    rom_est = ROM_ESTIMATES if rom_estimates is None else rom_estimates
    ram_est = RAM_ESTIMATES if ram_estimates is None else ram_estimates
    features = config.features
    storage = board.storage_for(config.storage_medium)
    storage_size = config.storage_size or storage.size
    budget = Budget(board=board.name)

    def rom(name: str, when: bool = True) -> None:
        if when and name in rom_est:
            budget.rom_items[name] = rom_est[name]

    rom("wamr-fast-interp")
    rom("wamr-libc-wasi")
    rom("wamr-aot", bool(features.get("aot")))
    rom("ocre-core")
    rom("kernel+libc+drivers")
    rom("littlefs+fs")
    rom("networking", bool(features.get("networking")))
    rom("shell", bool(features.get("shell")))
    rom("app")

    for name in ("kernel+drivers", "ocre-core", "ocre-system-heap", "main-stack"):
        if name in ram_est:
            budget.ram_items[name] = ram_est[name]
    for name in ("networking", "shell"):
        if features.get(name) and name in ram_est:
            budget.ram_items[name] = ram_est[name]
    containers = max(1, len(config.containers))
    if config.memory_placement == "internal":
        budget.ram_items["wamr-heap"] = config.heap_size
    budget.ram_items["container-stacks"] = config.stack_size * containers
    if storage.placement == "sim-flash":
        budget.ram_items["sim-flash"] = storage_size  # the simulator keeps the whole flash in RAM

    # Capacities
    if board.type != "native":
        budget.ram_capacity = board.ram
        on_code_flash = storage.medium == "internal" and storage.node == board.flash.node
        if on_code_flash and storage.placement == "existing" and storage.offset is not None:
            budget.rom_capacity = min(storage.offset, board.flash.size)
        elif on_code_flash and storage.placement == "append":
            budget.rom_capacity = board.flash.size - storage_size
        else:
            budget.rom_capacity = board.flash.size

    # Limits
    if storage_size > storage.max_size:
        budget.problems.append(
            f"storage {format_size(storage_size)} exceeds the {format_size(storage.max_size)} available "
            f"on {storage.medium} flash"
        )
    erase = storage.erase_block or board.flash.erase_block
    if erase and storage_size % erase:
        budget.problems.append(
            f"storage {storage_size} bytes is not a multiple of the {erase}-byte erase block"
        )
    if config.memory_placement == "internal" and config.heap_size < WASM_PAGE:
        budget.problems.append(
            f"wamr.heap_size {format_size(config.heap_size)} is below one 64 KiB WebAssembly page"
        )
    if budget.ram_capacity is not None and budget.ram_total > budget.ram_capacity:
        parts = ", ".join(f"{k} {format_size(v)}" for k, v in budget.ram_items.items())
        budget.problems.append(
            f"RAM budget exceeded: needs about {format_size(budget.ram_total)} ({parts}) "
            f"but the board has {format_size(budget.ram_capacity)}"
        )
    if budget.rom_capacity is not None and budget.rom_total > budget.rom_capacity:
        budget.problems.append(
            f"flash budget exceeded: needs about {format_size(budget.rom_total)} "
            f"but {format_size(budget.rom_capacity)} is left for code"
        )
    if config.memory_placement == "external":
        if not board.external_ram:
            budget.problems.append(
                "memory.placement external needs external RAM (PSRAM), which the board lacks"
            )
        elif config.heap_size > board.external_ram:
            budget.problems.append(
                f"wamr.heap_size {format_size(config.heap_size)} exceeds the board's "
                f"{format_size(board.external_ram)} of external RAM"
            )
    if not board.flash_driver and storage.placement != "sim-flash":
        budget.problems.append("the board has no flash driver for a storage partition")
    if budget.problems:
        if board.alternative:
            budget.suggestion = f"use -b {board.alternative} instead (it has the RAM for WAMR + Ocre)"
        else:
            budget.suggestion = "lower wamr.heap_size / storage.size in ocre.yml or pass --ignore-budget"
        if budget.ram_capacity is not None and budget.ram_total > budget.ram_capacity:
            budget.suggestion += (
                ", or build the tiny profile with --profile tiny (WAMR only, containers in a flash bundle; "
                "see docs/tiny.md)"
            )
    return budget
