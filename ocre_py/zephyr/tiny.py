"""The tiny profile: what a container must look like to run on a 64 KB-RAM MCU, and the budget table.

The full firmware (Ocre core + WAMR + littlefs + POSIX + networking) needs several hundred KB of RAM
(zephyr.md 6.3). The tiny firmware (``zephyr_app/src/tiny/``) is WAMR's classic interpreter with a
small global heap pool, our own natives for a documented subset of the Ocre API, and containers
read in place from a flash bundle (:mod:`ocre_py.zephyr.bundle`). Containers run one at a time, in
bundle order, so the WAMR pool must hold the largest one, not their sum.

This module answers two questions before anything is flashed:

* :func:`analyse_module` — will WAMR shrink this module's linear memory (the conditions are those of
  WAMR 2.4.3 ``wasm_loader.c``, see :mod:`ocre_py.sdk.tiny`), how many bytes will it really use, and
  does it import only what the tiny firmware serves?
* :func:`budget` — do kernel + WAMR + app + bundle fit the flash, and kernel + stacks + WAMR pool the
  RAM, with every container fitting the pool? It returns a table (rows of name, bytes, limit, origin)
  the CLI prints, and :meth:`TinyBudget.require_fits` refuses with the numbers.

Sizes that cannot be measured without a Zephyr build are estimates with their source named in the
``origin`` column; ``west build -t rom_report`` / ``ram_report`` and the boot log's pool high-water
mark (printed by the tiny firmware) are how to check them on a real workspace (docs/tiny.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ocre_py.errors import BuildError, DeployError, ImageError, OcreError
from ocre_py.image.wasm import CodeFacts, WasmReader, scan_code
from ocre_py.zephyr.bundle import MAGIC, Bundle, read_bundle

if TYPE_CHECKING:
    from ocre_py.zephyr.board.geometry import Geometry
    from ocre_py.zephyr.deploy import DeployRequest

log = logging.getLogger(__name__)

PAGE = 65536
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


# --------------------------------------------------------------------------------------------------
# Module analysis


@dataclass(frozen=True)
class TinyModule:
    """What the tiny profile needs to know about one module."""

    source: str
    size: int
    functions: int
    imports: tuple[tuple[str, str], ...]
    exports: tuple[str, ...]
    types: int
    globals: int
    memory_pages: int  # declared initial pages (imported or defined)
    memory_max_pages: int | None
    heap_base: int | None
    data_end: int | None
    stack_pointer: int | None
    code: CodeFacts

    @property
    def grows_memory(self) -> bool:
        return self.code.grows_memory

    @property
    def shrinkable(self) -> bool:
        """WAMR's condition (wasm_loader.c): both exports, align16(__data_end) ≤ __heap_base (else WAMR
        resolves no aux stack and skips the shrink), no memory.grow/size, and the shrunk size within
        the initial memory. The shadow-stack global is optional: without it WAMR uses __heap_base."""
        return (
            not self.grows_memory
            and self.heap_base is not None
            and self.data_end is not None
            and self.data_end <= self.heap_base
            and (self.heap_base + 7) // 8 * 8 <= self.memory_pages * PAGE
        )

    @property
    def linear_memory(self) -> int:
        """Bytes of linear memory WAMR allocates: align8(__heap_base) when shrunk, else whole pages
        (up to the declared maximum when the module can grow; unbounded growth counts 65536 pages)."""
        if self.shrinkable:
            assert self.heap_base is not None
            return (self.heap_base + 7) // 8 * 8
        if self.grows_memory:
            return max(self.memory_pages, self.memory_max_pages or 65536) * PAGE
        return self.memory_pages * PAGE

    @property
    def unserved_imports(self) -> list[str]:
        out = []
        for module, name in self.imports:
            if (module == "env" and name in TINY_ENV) or (module in WASI_MODULES and name in TINY_WASI):
                continue
            out.append(f"{module}.{name}")
        return out

    def wamr_ram(self, wasm_stack: int) -> int:
        """Pool bytes to load and run this module [estimate of WAMR 2.4.3 classic-interpreter structures].

        The module bytes are copied to RAM first: the classic interpreter rewrites opcodes in place
        (``*p_org = EXT_OP_BLOCK + ...`` in wasm_loader.c), so it cannot run from flash.
        """
        loader = 2 * KIB + 96 * self.functions + 48 * len(self.imports) + 32 * len(self.exports)
        loader += 32 * self.types + 24 * self.globals
        instance = 1 * KIB + 32 * self.functions + 2 * KIB  # instance, function instances, exec env
        return self.size + loader + instance + self.linear_memory + wasm_stack

    def require_shrinkable(self) -> TinyModule:
        if self.grows_memory:
            raise BuildError(
                f"{self.source}: uses memory.grow/memory.size, so WAMR cannot shrink its memory "
                f"({self.linear_memory} bytes at most): too big for a tiny target",
                hint="build with 'ocre build --tiny' (its allocator never grows memory) and avoid sbrk",
            )
        if not self.shrinkable:
            missing = [
                n for n, v in (("__heap_base", self.heap_base), ("__data_end", self.data_end)) if v is None
            ]
            why = f"exports {', '.join(missing)} missing" if missing else "__data_end is above __heap_base"
            raise BuildError(
                f"{self.source}: WAMR cannot shrink its linear memory ({why})",
                hint="link with -Wl,--export=__heap_base -Wl,--export=__data_end (ocre build --tiny)",
            )
        return self


class _R(WasmReader):
    problem = "cannot analyse wasm module"

    def __init__(self, data: bytes, pos: int, end: int, source: str) -> None:
        super().__init__(data, source, pos=pos, end=end)

    def const_i32(self) -> int | None:
        """An init expression; its value if it is exactly ``i32.const N; end``, else None (skipped)."""
        op = self.byte()
        value = self.sleb() & 0xFFFFFFFF if op == 0x41 else None
        if value is not None:
            op = self.byte()
            if op == 0x0B:
                return value
        while op != 0x0B:  # any other constant expression, skipped to its end
            if op in (0x41, 0x42):
                self.sleb()
            elif op in (0x23, 0xD2):
                self.uleb()
            elif op == 0x43:
                self.skip(4)
            elif op == 0x44:
                self.skip(8)
            elif op == 0xD0:
                self.byte()
            op = self.byte()
        return None


def analyse_module(data: bytes, *, source: str = "module") -> TinyModule:
    """Parse ``data`` as far as the tiny profile needs (see :class:`TinyModule`)."""
    if data[:8] != b"\0asm\x01\0\0\0":
        raise ImageError(f"{source}: not a wasm v1 module", hint="the tiny profile runs .wasm only (no AOT)")
    r = _R(data, 8, len(data), source)
    types = functions = import_globals = 0
    imports: list[tuple[str, str]] = []
    exports: list[tuple[str, int, int]] = []
    globals_: list[tuple[bool, int | None]] = []
    pages, max_pages = 0, None
    while r.pos < r.end:
        sid = r.byte()
        size = r.uleb()
        body = _R(data, r.pos, r.pos + size, source)
        r.skip(size)
        if sid == 1:
            types = body.uleb()
        elif sid == 2:
            for _ in range(body.uleb()):
                mod, name, kind = body.name(), body.name(), body.byte()
                if kind == 0:
                    body.uleb()
                    imports.append((mod, name))
                elif kind == 1:
                    body.byte()
                    body.limits()
                elif kind == 2:
                    lim = body.limits()
                    pages, max_pages = lim.minimum, lim.maximum
                elif kind == 3:
                    body.byte()
                    body.byte()
                    import_globals += 1
                else:
                    raise body.fail(f"import kind {kind}")
        elif sid == 3:
            functions = body.uleb()
        elif sid == 5 and body.uleb():
            lim = body.limits()
            pages, max_pages = lim.minimum, lim.maximum
        elif sid == 6:
            for _ in range(body.uleb()):
                body.byte()
                mutable = body.byte() == 1
                globals_.append((mutable, body.const_i32()))
        elif sid == 7:
            for _ in range(body.uleb()):
                name, kind, index = body.name(), body.byte(), body.uleb()
                exports.append((name, kind, index))

    def exported_const(name: str) -> int | None:
        for ename, kind, index in exports:
            if ename == name and kind == 3 and index >= import_globals:
                mutable, value = globals_[index - import_globals]
                return None if mutable else value
        return None

    heap_base, data_end = exported_const("__heap_base"), exported_const("__data_end")
    stack = None
    if heap_base is not None:
        stack = next((v for m, v in globals_ if m and v is not None and v <= heap_base), None)
    return TinyModule(
        source=source,
        size=len(data),
        functions=functions,
        imports=tuple(imports),
        exports=tuple(n for n, _, _ in exports),
        types=types,
        globals=len(globals_),
        memory_pages=pages,
        memory_max_pages=max_pages,
        heap_base=heap_base,
        data_end=None if data_end is None else (data_end + 15) // 16 * 16,
        stack_pointer=stack,
        code=scan_code(data, source=source),
    )


# --------------------------------------------------------------------------------------------------
# Budget


@dataclass(frozen=True)
class BudgetRow:
    area: str  # "flash" or "ram"
    item: str
    size: int
    origin: str


@dataclass(frozen=True)
class TinyBudget:
    """The flash and RAM tables for one board and bundle. Rows add up to ``*_used``."""

    target: TinyTarget
    rows: tuple[BudgetRow, ...]
    flash_code: int  # kernel + WAMR + app, against target.code_size
    bundle_size: int  # against target.bundle_size
    ram_fixed: int  # kernel + stacks + timers + pool, against target.ram_size
    pool: int
    containers: tuple[tuple[str, int], ...] = field(default=())  # (name, pool bytes needed)
    problems: tuple[str, ...] = field(default=())

    @property
    def fits(self) -> bool:
        return not self.problems

    def table(self) -> list[tuple[str, str, str, str]]:
        """Rows for printing: (item, bytes, limit, origin), flash first then RAM, with totals."""
        t = self.target
        out = [(f"{r.area}: {r.item}", str(r.size), "", r.origin) for r in self.rows]
        out.append(
            ("flash: firmware total", str(self.flash_code), f"{t.code_size} (below 0x{t.bundle_addr:x})", "")
        )
        out.append(("flash: bundle", str(self.bundle_size), f"{t.bundle_size} (partition)", "bundle"))
        out.append(("ram: total", str(self.ram_fixed), str(t.ram_size), ""))
        for name, need in self.containers:
            out.append((f"pool: container {name}", str(need), str(self.pool), "module + WAMR estimate"))
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "board": self.target.board,
            "flash_code": self.flash_code,
            "flash_code_limit": self.target.code_size,
            "bundle": self.bundle_size,
            "bundle_limit": self.target.bundle_size,
            "ram": self.ram_fixed,
            "ram_limit": self.target.ram_size,
            "pool": self.pool,
            "containers": dict(self.containers),
            "fits": self.fits,
            "problems": list(self.problems),
        }

    def require_fits(self, error: type[OcreError] = DeployError) -> TinyBudget:
        if self.problems:
            raise error(
                f"{self.target.board} (tiny profile): " + "; ".join(self.problems),
                hint="shrink the containers (ocre build --tiny, smaller --stack) or deploy fewer at once",
            )
        return self


def budget(
    target: TinyTarget,
    bundle: Bundle | None = None,
    *,
    modules: Sequence[TinyModule] | None = None,
    measured: dict[str, int] | None = None,
) -> TinyBudget:
    """Add up flash and RAM for ``target`` with ``bundle``; ``measured`` overrides estimates by row
    name (``kernel_flash``, ``wamr_flash``, ``app_flash``, ``kernel_ram``) from a real build."""
    m = measured or {}

    def pick(key: str, default: int) -> tuple[int, str]:
        return (m[key], "measured") if key in m else (default, target.origin)

    kf, kf_o = pick("kernel_flash", target.kernel_flash)
    wf, wf_o = pick("wamr_flash", target.wamr_flash)
    af, af_o = pick("app_flash", target.app_flash)
    kr, kr_o = pick("kernel_ram", target.kernel_ram)
    pool = target.pool_size
    rows = [
        BudgetRow("flash", "Zephyr kernel + console", kf, kf_o),
        BudgetRow(
            "flash", "WAMR classic interpreter", wf, wf_o if "wamr_flash" in m else "WAMR README ≈56.3K"
        ),
        BudgetRow("flash", "Ocre tiny app (natives, bundle reader, SHA-256)", af, af_o),
        BudgetRow("ram", "kernel data/bss + drivers", kr, kr_o),
        BudgetRow("ram", "ISR stack", target.isr_stack, "CONFIG_ISR_STACK_SIZE"),
        BudgetRow("ram", "main stack (WAMR runs here)", target.main_stack, "CONFIG_MAIN_STACK_SIZE"),
        BudgetRow("ram", "timers + event queue", target.timer_ram, "natives.c"),
        BudgetRow("ram", "WAMR global heap pool", pool, "RAM left over, whole KiB"),
    ]
    flash_code = kf + wf + af
    ram_fixed = kr + target.isr_stack + target.main_stack + target.timer_ram + pool
    problems: list[str] = []
    if flash_code > target.code_size:
        problems.append(
            f"firmware needs {flash_code} bytes of flash, {target.code_size} are below the bundle"
        )
    if ram_fixed > target.ram_size:
        problems.append(f"RAM needs {ram_fixed} bytes, the board has {target.ram_size}")
    bundle_size = bundle.total_size if bundle else 0
    if bundle_size > target.bundle_size:
        problems.append(f"bundle is {bundle_size} bytes, the partition holds {target.bundle_size}")
    if modules is None and bundle is not None:
        modules = [analyse_module(e.module, source=e.name) for e in bundle.entries]
    needs: list[tuple[str, int]] = []
    for mod in modules or ():
        need = mod.wamr_ram(target.wasm_stack)
        needs.append((mod.source, need))
        if not mod.shrinkable:
            problems.append(
                f"container {mod.source}: linear memory not shrinkable ({mod.linear_memory} bytes)"
                " — build it with 'ocre build --tiny'"
            )
        elif need > pool:
            problems.append(f"container {mod.source} needs {need} bytes of WAMR pool, the pool has {pool}")
        if mod.unserved_imports:
            problems.append(
                f"container {mod.source} imports what the tiny profile does not serve: "
                + ", ".join(mod.unserved_imports[:6])
                + (" ..." if len(mod.unserved_imports) > 6 else "")
            )
    return TinyBudget(
        target, tuple(rows), flash_code, bundle_size, ram_fixed, pool, tuple(needs), tuple(problems)
    )


# --------------------------------------------------------------------------------------------------
# Integration with the board database, deploy, run and build (issues 5 and 6)

BUNDLE_LABEL = "ocre_bundle_partition"


def tiny_target(board: object) -> TinyTarget:
    """The tiny view of a board database entry (the built-in entry, else one from its sizes)."""
    name = getattr(board, "name", str(board))
    if name in TARGETS:
        return TARGETS[name]
    flash = getattr(board, "flash", None)
    return target_for(
        name,
        flash_size=getattr(flash, "size", None),
        ram_size=getattr(board, "ram", None),
        flash_base=getattr(flash, "base", 0),
    )


TINY_BOARDS_DIR = Path(__file__).resolve().parents[2] / "zephyr_app" / "src" / "tiny" / "boards"


def render_overlay(board: object) -> str:
    """A bundle-partition overlay for a board without a checked-in one (``src/tiny/boards/``): the
    top of its code flash, in the board's partition style. [unverified on boards whose flash already
    has partitions that overlap the top quarter: check the merged zephyr.dts]"""
    from ocre_py.zephyr.render import _partitions_node

    t = tiny_target(board)
    flash = getattr(board, "flash", None)
    node = getattr(flash, "node", "flash0")
    try:
        style = board.storage_for(None).style  # type: ignore[attr-defined]
    except Exception:
        style = "fixed"
    off = t.bundle_addr - t.flash_base
    part = [f"\t\t{BUNDLE_LABEL}: partition@{off:x} {{"]
    if style == "mapped":
        part.append('\t\t\tcompatible = "zephyr,mapped-partition";')
    part += ['\t\t\tlabel = "ocre-bundle";', f"\t\t\treg = <0x{off:08x} 0x{t.bundle_size:08x}>;"]
    part += ["\t\t\tread-only;", "\t\t};"]
    head = [
        f"/* Generated by 'west ocre build --profile tiny' for {t.board}. Do not edit. */",
        f"/* bundle partition at 0x{t.bundle_addr:08x}, {t.bundle_size} bytes (docs/tiny.md) */",
        "",
    ]
    return "\n".join([*head, f"&{node} {{", *_partitions_node(style, "\t", part), "};"]) + "\n"


def bundle_geometry(*, board: object | None = None, build_dir: Path | None = None) -> Geometry:
    """Where the bundle goes: the build's ``ocre_bundle_partition`` node when there is a build (the
    overlay is the source of truth), else the board's tiny target."""
    from ocre_py.zephyr.board import devicetree as dts
    from ocre_py.zephyr.board import geometry

    if build_dir is not None:
        from ocre_py.zephyr.project import build_dir as bdir

        dts_file = bdir.zephyr_dts(build_dir)
        if dts_file.is_file():
            return geometry.from_tree(dts.load(dts_file), label=BUNDLE_LABEL)
        if board is None:
            from ocre_py.zephyr.board.database import get_board

            name = bdir.board(build_dir)
            board = get_board(name.split("@")[0]) if name else None
    if board is None:
        raise DeployError("the tiny profile needs -b BOARD or -d BUILD_DIR to place the bundle")
    t = tiny_target(board)
    return geometry.Geometry(
        address=t.bundle_addr,
        size=t.bundle_size,
        erase_block=t.erase_block,
        offset=t.bundle_addr - t.flash_base,
        flash_base=t.flash_base,
        flash_size=t.flash_size,
        label=BUNDLE_LABEL,
        source=f"board {t.board} (tiny profile bundle partition)",
        load_address=t.bundle_addr,
    )


def is_bundle_file(path: Path) -> bool:
    """True when ``path`` starts with the bundle magic (so ``run`` places it as a bundle)."""
    try:
        with Path(path).open("rb") as fh:
            return fh.read(4) == MAGIC
    except OSError:
        return False


def deploy_budget(board: object, data: bytes, *, source: str = "bundle") -> TinyBudget:
    """The budget of a packed bundle on ``board`` (what ``deploy --profile tiny`` prints and checks)."""
    return budget(tiny_target(board), read_bundle(data, source=source))


def render_table(plan: TinyBudget) -> str:
    """The budget as aligned text: item, bytes, limit, origin (what the CLI prints)."""
    rows = [("ITEM", "BYTES", "LIMIT", "ORIGIN"), *plan.table()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    verdict = "fits" if plan.fits else "does NOT fit: " + "; ".join(plan.problems)
    return "\n".join([*lines, f"{plan.target.board} (tiny profile): {verdict}"]) + "\n"


def as_budget(plan: TinyBudget) -> object:
    """The same numbers as :class:`ocre_py.zephyr.budget.Budget`, for the build plan and ``--json``."""
    from ocre_py.zephyr.budget import Budget

    return Budget(
        board=plan.target.board,
        ram_items={r.item: r.size for r in plan.rows if r.area == "ram"},
        rom_items={r.item: r.size for r in plan.rows if r.area == "flash"},
        ram_capacity=plan.target.ram_size,
        rom_capacity=plan.target.code_size,
        problems=list(plan.problems),
        suggestion=None if plan.fits else "shrink the containers (ocre build --tiny) or deploy fewer",
    )


def plan_tiny_build(
    request: object, ctx: object, *, app: Path, config: object, target: str, origin: str, board: object,
    build_dir: Path,
) -> object:  # fmt: skip
    """The :class:`ocre_py.zephyr.build.BuildPlan` of ``west ocre build --profile tiny``.

    No Ocre Kconfig fragment or storage overlay: ``zephyr_app/CMakeLists.txt`` includes
    ``src/tiny/tiny.cmake`` when ``OCRE_PROFILE=tiny``, which brings its own ``tiny.conf`` and board
    overlay (the bundle partition). Containers listed in ``ocre.yml`` that exist as files are
    analysed so the budget covers them; the pool size passed to CMake is the budget's.
    """
    import json
    import sys

    from ocre_py.zephyr.build import GENERATED_DIR, BuildPlan, _merge_cmake_list, _pristine

    t = tiny_target(board)
    base = (
        Path(getattr(config, "source", ".")).parent
        if getattr(config, "source", "defaults") != "defaults"
        else app
    )
    modules = []
    for c in getattr(config, "containers", ()):
        path = Path(c.image) if Path(c.image).is_absolute() else base / c.image
        if path.is_file():
            modules.append(analyse_module(path.read_bytes(), source=c.name))
    plan = budget(t, None, modules=modules)
    if not getattr(request, "ignore_budget", False):
        plan.require_fits(BuildError)
    gen = Path(build_dir).resolve() / GENERATED_DIR
    files = {
        gen / "tiny-budget.txt": render_table(plan),
        gen / "tiny-budget.json": json.dumps(plan.as_dict(), indent=2, sort_keys=True) + "\n",
    }
    overlays = list(getattr(request, "extra_dtc_overlay", []))
    normalized = getattr(board, "normalized", t.board.replace("/", "_"))
    if not (TINY_BOARDS_DIR / f"{normalized}.overlay").is_file():
        files[gen / "tiny.overlay"] = render_overlay(board)
        overlays.insert(0, str(gen / "tiny.overlay"))
    cmake = list(getattr(request, "cmake_args", []))
    cmake, extra_conf = _merge_cmake_list(cmake, "EXTRA_CONF_FILE", list(getattr(request, "extra_conf", [])))
    cmake, extra_dtc = _merge_cmake_list(cmake, "EXTRA_DTC_OVERLAY_FILE", overlays)
    command = [sys.executable, "-m", "west", "build", "-b", target, "-d", str(build_dir), "-p", "never"]
    command += list(getattr(request, "west_args", []))
    command += [str(app), "--", "-DOCRE_PROFILE=tiny", f"-DOCRE_TINY_POOL_SIZE={t.pool_size}"]
    command += [
        f"-DOCRE_TINY_BUNDLE_ADDR=0x{t.bundle_addr:x}",
        f"-DOCRE_TINY_BUNDLE_SIZE=0x{t.bundle_size:x}",
    ]
    if extra_conf:
        command.append(f"-DEXTRA_CONF_FILE={extra_conf}")
    if extra_dtc:
        command.append(f"-DEXTRA_DTC_OVERLAY_FILE={extra_dtc}")
    command += cmake
    return BuildPlan(
        target=target,
        board=board,  # type: ignore[arg-type]
        board_origin=origin,
        app=app,
        build_dir=Path(build_dir),
        config=config,  # type: ignore[arg-type]
        budget=as_budget(plan),  # type: ignore[arg-type]
        files=files,
        command=command,
        wipe_build_dir=_pristine(request, ctx, Path(build_dir), target, app),  # type: ignore[arg-type]
    )


def check_deploy(req: DeployRequest) -> TinyBudget:
    """Pack ``req`` (a :class:`ocre_py.zephyr.deploy.DeployRequest` with ``format="bundle"``) in
    memory and check the tiny budget for its board, before anything is written or flashed."""
    from ocre_py.zephyr import deploy as dep
    from ocre_py.zephyr.build import lookup_board
    from ocre_py.zephyr.bundle import BundleFormat

    name = getattr(req, "board", None)
    build_dir = getattr(req, "build_dir", None)
    if not name and build_dir is not None:
        from ocre_py.zephyr.project import build_dir as bdir

        name = bdir.board(build_dir)
    if not name:
        raise DeployError("the tiny profile needs -b BOARD or -d BUILD_DIR to check the budget")
    board = lookup_board(name.split("@")[0])
    sources = dep.resolve_sources(getattr(req, "sources", ()))
    images = dep.read_images(req, sources)
    geo = bundle_geometry(board=board, build_dir=build_dir)
    entries = dep.autostart_entries(req, sources)
    data, _ = BundleFormat().pack(images, geo, previous=None, replace=True, entries=entries, progress=None)
    return deploy_budget(board, data).require_fits()
