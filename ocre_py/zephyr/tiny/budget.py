"""The tiny profile's budget: do kernel + WAMR + app + bundle fit the flash, and kernel + stacks + the
WAMR pool the RAM, with every container fitting the pool?

Containers run one at a time, in bundle order, so the pool must hold the largest one, not their sum.
:func:`budget` returns a table (rows of item, bytes, limit, origin) the CLI prints, and
:meth:`TinyBudget.require_fits` refuses with the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ocre_py.errors import DeployError, OcreError
from ocre_py.image.tiny_module import TinyModule, analyse_module
from ocre_py.zephyr.board.database import Board
from ocre_py.zephyr.firmware.budget import Budget
from ocre_py.zephyr.storage.bundle import Bundle, read_bundle
from ocre_py.zephyr.tiny.profile import TinyTarget, tiny_target, unserved_imports


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
        if unserved_imports(mod):
            problems.append(
                f"container {mod.source} imports what the tiny profile does not serve: "
                + ", ".join(unserved_imports(mod)[:6])
                + (" ..." if len(unserved_imports(mod)) > 6 else "")
            )
    return TinyBudget(
        target, tuple(rows), flash_code, bundle_size, ram_fixed, pool, tuple(needs), tuple(problems)
    )


def deploy_budget(board: Board, data: bytes, *, source: str = "bundle") -> TinyBudget:
    """The budget of a packed bundle on ``board`` (what ``deploy --profile tiny`` prints and checks)."""
    return budget(tiny_target(board), read_bundle(data, source=source))


def render_table(plan: TinyBudget) -> str:
    """The budget as aligned text: item, bytes, limit, origin (what the CLI prints)."""
    rows = [("ITEM", "BYTES", "LIMIT", "ORIGIN"), *plan.table()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    verdict = "fits" if plan.fits else "does NOT fit: " + "; ".join(plan.problems)
    return "\n".join([*lines, f"{plan.target.board} (tiny profile): {verdict}"]) + "\n"


def as_budget(plan: TinyBudget) -> Budget:
    """The same numbers as a firmware :class:`Budget`, for the build plan and ``--json``."""
    return Budget(
        board=plan.target.board,
        ram_items={r.item: r.size for r in plan.rows if r.area == "ram"},
        rom_items={r.item: r.size for r in plan.rows if r.area == "flash"},
        ram_capacity=plan.target.ram_size,
        rom_capacity=plan.target.code_size,
        problems=list(plan.problems),
        suggestion=None if plan.fits else "shrink the containers (ocre build --tiny) or deploy fewer",
    )
