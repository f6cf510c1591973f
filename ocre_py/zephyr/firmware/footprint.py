"""ROM and RAM of a firmware ELF by component (WAMR, Ocre core, kernel, libc, drivers, app...).

In a workspace, Zephyr's own size report is preferred
(:func:`ocre_py.zephyr.firmware.size_report.footprint_of_build`); this module's attribution is the
fallback and the ``--elf`` path.

Reads the symbol table and section headers with pyelftools; no Zephyr tree, no DWARF (fast, works
on stripped-of-debug builds). A symbol's bytes count as ROM when its section is allocated and
read-only, RAM when writable and NOBITS (``.bss``, ``.noinit``), both when writable with contents
(``.data``: the initialiser lives in flash and is copied to RAM). Bytes of a section no symbol
covers (padding, anonymous literals) go to ``unattributed``. Components are recognised by symbol
name (and, for local symbols, by the source file named in the preceding ``STT_FILE`` symbol), with
the rules as data in :data:`COMPONENT_RULES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ocre_py.errors import InvalidInput, NotFound

#: (component, symbol-name regex), first match wins. Extend by appending rules, not code.
COMPONENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("containers", re.compile(r"(_wasm(_len|_size)?$|^ocre_bundle|^bundle_|_container_image|_sample_image)")),
    (
        "wamr",
        re.compile(
            r"^(wasm_|aot_|wasi_|bh_|os_|gc_|ems_|mem_allocator|invokeNative|wamr_|jit_|lib_pthread|"
            r"runtime_|loader_|llvm_|wasm$|g_|native_symbols_|libc_wasi|lib_wasi)"
        ),
    ),
    ("ocre", re.compile(r"^(ocre_|_ocre|OCRE_|ocre$)", re.IGNORECASE)),
    (
        "app",
        re.compile(
            r"^(main|autostart_\w+|start_containers|status_name|parse_line|parse_flags|next_field|"
            r"push|autostart|started)$"
        ),
    ),
    (
        "drivers",
        re.compile(
            r"^(uart_|gpio_|flash_|spi_|i2c_|stm32_|pinctrl|clock_control|counter_|entropy_|rng_|nvic|cmsdk|"
            r"flash_sim|sim_flash|__device_dts_ord_|LL_|HAL_|rcc_|dma_|sensor_|lm3s|serial_|console_|eeprom_)"
        ),
    ),
    (
        "subsys",
        re.compile(
            r"^(lfs_|littlefs_|fs_|zvfs_|log_|z_log|shell_|net_|posix_|pthread_|printk|vprintk|cbprintf|cbvprintf|"
            r"z_cbprintf|settings_|mcumgr|fstab|mount)"
        ),
    ),
    (
        "libc",
        re.compile(
            r"^(mem(cpy|set|move|cmp|chr)|str[a-z]+|__l_vfprintf|v?f?s?n?printf|puts|fputs|putchar|fputc|malloc|free|"
            r"calloc|realloc|aligned_alloc|abort|_?exit|ato[il]|strto[a-z]+|qsort|bsearch|__aeabi_\w+|__udiv\w+|"
            r"__div\w+|__mod\w+|__\w+[sd]f[23]|_impure_ptr|errno|__errno|__libc\w*|__stdio\w*|_?stdout|_?stderr|"
            r"__ssputs\w*|__sfvwrite\w*|_ctype_\w*|__locale\w*|rand|srand|gmtime\w*|localtime\w*|mktime|"
            r"__malloc\w*|_malloc\w*|sbrk|_sbrk|__picolibc\w*|isatty|fwrite|fread|fflush|fopen|fclose)$"
        ),
    ),
    (
        "kernel",
        re.compile(
            r"^(z_|k_|_k_|arch_|_kernel|sys_|_sw_isr|_irq|__isr|_isr|__start|_vector|__reset|reset|idle|_thread|"
            r"__device_|_device|device_|init_|_init|sched|_timeout|_sys_|_arch|_cpu|bg_thread|_fault|__fault|"
            r"sysclock|SystemInit|_main|__init_|z$|_ready_q|_timeout_q|smp_|atomic_)"
        ),
    ),
]
#: (component, source-file basename regex) for local symbols that follow an STT_FILE symbol.
FILE_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "wamr",
        re.compile(
            r"^(wasm_|aot_|bh_|ems_|gc_|libc_wasi|posix_(file|socket|thread|clock|time)|zephyr_"
            r"(file|socket|clock|thread|platform|time)|mem_alloc|invokeNative|runtime_lib)"
        ),
    ),
    ("ocre", re.compile(r"(^ocre|^container\.c$|^context\.c$|^library\.c$)")),
    ("app", re.compile(r"^(main\.c|autostart\.c)$")),
    ("subsys", re.compile(r"^(lfs|littlefs|fs|log_|shell|net_|posix|pthread|cbprintf)")),
    ("drivers", re.compile(r"^(uart|gpio|flash|spi|i2c|soc|pinctrl|clock|entropy|timer|intc|serial)")),
]
COMPONENTS = ("wamr", "ocre", "kernel", "libc", "drivers", "subsys", "app", "containers", "other")


@dataclass
class ComponentSize:
    rom: int = 0
    ram: int = 0


@dataclass
class Footprint:
    """Sizes by component for one ELF; ``unattributed`` holds section bytes no symbol covers."""

    elf: str
    #: where the attribution came from: "zephyr size_report" (DWARF source paths) or "symbols"
    source: str = "symbols"
    #: why the preferred source was not used, when it was not (``footprint`` prints it)
    note: str | None = None
    components: dict[str, ComponentSize] = field(
        default_factory=lambda: {c: ComponentSize() for c in COMPONENTS}
    )
    unattributed: ComponentSize = field(default_factory=ComponentSize)

    @property
    def rom_total(self) -> int:
        return sum(c.rom for c in self.components.values()) + self.unattributed.rom

    @property
    def ram_total(self) -> int:
        return sum(c.ram for c in self.components.values()) + self.unattributed.ram

    def to_dict(self) -> dict[str, object]:
        return {
            "elf": self.elf,
            "source": self.source,
            "note": self.note,
            "components": {k: {"rom": v.rom, "ram": v.ram} for k, v in self.components.items()},
            "unattributed": {"rom": self.unattributed.rom, "ram": self.unattributed.ram},
            "rom_total": self.rom_total,
            "ram_total": self.ram_total,
        }


def classify(name: str, source_file: str | None = None) -> str:
    if source_file:
        base = Path(source_file).name
        for component, rx in FILE_RULES:
            if rx.search(base):
                return component
    for component, rx in COMPONENT_RULES:
        if rx.search(name):
            return component
    return "other"


def analyze_elf(path: Path) -> Footprint:
    """Attribute every allocated byte of ``path`` to a component."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    fp = Footprint(elf=str(path))
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such ELF file") from None
    with fh:
        try:
            elf = ELFFile(fh)
        except ELFError as exc:
            raise InvalidInput.field(None, "ELF", str(path), f"an ELF file ({exc})") from None
        kinds: dict[int, tuple[bool, bool]] = {}  # section index → (counts as rom, counts as ram)
        covered: dict[int, int] = {}
        for i, sec in enumerate(elf.iter_sections()):
            flags = sec["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            writable = bool(flags & SH_FLAGS.SHF_WRITE)
            nobits = sec["sh_type"] == "SHT_NOBITS"
            kinds[i] = (not nobits, writable)
            covered[i] = 0
        symtab = elf.get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            raise InvalidInput.field(None, "ELF", str(path), "an ELF with a symbol table (not stripped)")
        seen: set[tuple[int, int]] = set()
        current_file: str | None = None
        for sym in symtab.iter_symbols():
            stype = sym["st_info"]["type"]
            if stype == "STT_FILE":
                current_file = sym.name
                continue
            if sym["st_info"]["bind"] != "STB_LOCAL":
                current_file = None
            shndx = sym["st_shndx"]
            size = sym["st_size"]
            if not isinstance(shndx, int) or shndx not in kinds or size == 0:
                continue
            key = (sym["st_value"], shndx)
            if key in seen:  # aliases (weak + strong at one address) count once
                continue
            seen.add(key)
            rom, ram = kinds[shndx]
            comp = fp.components[classify(sym.name, current_file)]
            if rom:
                comp.rom += size
            if ram:
                comp.ram += size
            covered[shndx] += size
        for i, sec in enumerate(elf.iter_sections()):
            if i not in kinds:
                continue
            rest = max(0, sec["sh_size"] - covered[i])
            rom, ram = kinds[i]
            if rom:
                fp.unattributed.rom += rest
            if ram:
                fp.unattributed.ram += rest
    return fp
