"""Render the Kconfig fragment and devicetree overlay that turn a Zephyr app into an Ocre firmware.

Python decides every value (board data + ``ocre.yml``); the text is deterministic so tests compare
it exactly and ``dtc`` parses it. The storage partition is written in the board's own style:
Zephyr 4.4 ``zephyr,mapped-partition`` for memory-mapped internal flash, ``fixed-partitions`` for
external NOR, native_sim and the flash simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocre_py.zephyr.board.database import Board, StorageSpec
from ocre_py.zephyr.project.config import FEATURES, OcreConfig

MOUNT_POINT = "/lfs"
#: littlefs geometry in the fstab node (Ocre's samples use the same values).
LFS_READ_SIZE = 256
LFS_PROG_SIZE = 256
LFS_CACHE_SIZE = 256
LFS_LOOKAHEAD_SIZE = 256
LFS_BLOCK_CYCLES = 512


@dataclass(frozen=True)
class StorageLayout:
    """Where the storage partition ends up: what deploy needs to build and place the image."""

    medium: str
    node: str
    style: str
    offset: int
    size: int
    erase_block: int
    absolute_address: int | None  # CPU address when memory-mapped, else None


def storage_layout(board: Board, config: OcreConfig) -> StorageLayout:
    spec = board.storage_for(config.storage_medium)
    size = config.storage_size or spec.size
    erase = spec.erase_block or board.flash.erase_block or 4096
    if spec.placement == "append":
        offset = board.flash.size - size
    elif spec.placement in ("sim-flash",):
        offset = 0
    else:
        offset = spec.offset or 0
    if spec.placement == "sim-flash":
        absolute = None
    elif spec.placement == "external":
        absolute = (spec.base or 0) + offset
    else:
        on_code_flash = spec.node == board.flash.node
        absolute = board.flash.base + offset if on_code_flash and board.type == "mcu" else None
    return StorageLayout(spec.medium, spec.node, spec.style, offset, size, erase, absolute)


def _h(n: int) -> str:
    return f"0x{n:08x}"


def _partition(label_line: str, offset: int, size: int, style: str, indent: str) -> list[str]:
    lines = [f"{indent}storage_partition: partition@{offset:x} {{"]
    if style == "mapped":
        lines.append(f'{indent}\tcompatible = "zephyr,mapped-partition";')
    lines += [f"{indent}\t{label_line}", f"{indent}\treg = <{_h(offset)} {_h(size)}>;", f"{indent}}};"]
    return lines


def partitions_node(style: str, indent: str, body: list[str]) -> list[str]:
    lines = [f"{indent}partitions {{"]
    if style == "fixed":
        lines.append(f'{indent}\tcompatible = "fixed-partitions";')
    lines += [f"{indent}\t#address-cells = <1>;", f"{indent}\t#size-cells = <1>;"]
    if style == "mapped":
        lines.append(f"{indent}\tranges;")
    return [*lines, "", *body, f"{indent}}};"]


def _storage_lines(board: Board, spec: StorageSpec, layout: StorageLayout) -> list[str]:
    label = 'label = "storage";'
    if spec.placement == "existing":
        lines = ["&storage_partition {", f"\treg = <{_h(layout.offset)} {_h(layout.size)}>;", "};"]
        end = layout.offset + layout.size
        if spec.grow_flash and end > board.flash.size:
            grown = 1 << (end - 1).bit_length()
            lines = [
                f"&{board.flash.node} {{",
                f"\treg = <{_h(board.flash.base)} {_h(grown)}>;",
                "};",
                "",
                *lines,
            ]
        return lines
    if spec.placement == "append":
        body = _partition(label, layout.offset, layout.size, spec.style, "\t\t")
        return [f"&{spec.node} {{", *partitions_node(spec.style, "\t", body), "};"]
    if spec.placement == "sim-flash":
        body = _partition(label, 0, layout.size, spec.style, "\t\t\t\t")
        return [
            "/ {",
            f"\t{spec.node}: {spec.node} {{",
            '\t\tcompatible = "zephyr,sim-flash";',
            "\t\t#address-cells = <1>;",
            "\t\t#size-cells = <1>;",
            "\t\terase-value = <0xff>;",
            "",
            "\t\tflash_sim0: flash_sim@0 {",
            '\t\t\tcompatible = "soc-nv-flash";',
            f"\t\t\treg = <0x00000000 {_h(layout.size)}>;",
            f"\t\t\terase-block-size = <{layout.erase_block}>;",
            "\t\t\twrite-block-size = <4>;",
            "",
            *partitions_node(spec.style, "\t\t\t", body),
            "\t\t};",
            "\t};",
            "};",
        ]
    if spec.placement == "external":
        lines = []
        if spec.delete_internal:
            lines += [
                f"&{board.flash.node} {{",
                "\tpartitions {",
                f"\t\t/delete-node/ {spec.delete_internal};",
                "\t};",
                "};",
                "",
            ]
        body = [
            f"\t\t/delete-node/ partition@{layout.offset:x};",
            *_partition(label, layout.offset, layout.size, spec.style, "\t\t"),
        ]
        return [*lines, f"&{spec.node} {{", "\tpartitions {", *body, "\t};", "};"]
    raise AssertionError(f"unknown placement {spec.placement}")


def fstab_lines() -> list[str]:
    return [
        "/ {",
        "\tfstab {",
        '\t\tcompatible = "zephyr,fstab";',
        "\t\tlfs1: lfs1 {",
        '\t\t\tcompatible = "zephyr,fstab,littlefs";',
        f"\t\t\tread-size = <{LFS_READ_SIZE}>;",
        f"\t\t\tprog-size = <{LFS_PROG_SIZE}>;",
        f"\t\t\tcache-size = <{LFS_CACHE_SIZE}>;",
        f"\t\t\tlookahead-size = <{LFS_LOOKAHEAD_SIZE}>;",
        f"\t\t\tblock-cycles = <{LFS_BLOCK_CYCLES}>;",
        "\t\t\tpartition = <&storage_partition>;",
        f'\t\t\tmount-point = "{MOUNT_POINT}";',
        "\t\t\tautomount;",
        "\t\t};",
        "\t};",
        "};",
    ]


def render_overlay(
    board: Board, config: OcreConfig, *, fstab: bool = True, tool: str = "west ocre build"
) -> str:
    """The devicetree overlay: storage partition in the board's style (+ littlefs automount)."""
    spec = board.storage_for(config.storage_medium)
    layout = storage_layout(board, config)
    head = [
        f"/* Generated by '{tool}' for {board.name} from {config.source}. Do not edit. */",
        f"/* storage: {layout.medium} flash, {layout.style} partition, offset {_h(layout.offset)}, "
        f"size {_h(layout.size)}, erase block {layout.erase_block} */",
        "",
    ]
    body = _storage_lines(board, spec, layout)
    if fstab:
        body = [*body, "", *fstab_lines()]
    return "\n".join([*head, *body]) + "\n"


def app_board_files(board: Board, config: OcreConfig) -> dict[str, str]:
    """``boards/<target>.overlay`` / ``.conf`` for an app that must also build with plain ``west build``.

    Only what the board lacks for Ocre: the storage partition (the app's fstab.overlay mounts it)
    and the few Kconfig values that differ per board. ``west ocre build`` overrides both.
    """
    spec = board.storage_for(config.storage_medium)
    conf = [
        f"# Ocre settings for {board.name} (generated by 'ocre zephyr init'; 'west ocre build' overrides)."
    ]
    if spec.placement == "sim-flash":
        conf.append("CONFIG_FLASH_SIMULATOR=y")
    if board.type == "native":
        conf.append("CONFIG_COMMON_LIBC_MALLOC_ARENA_SIZE=10485760")
    else:
        conf.append(f"CONFIG_COMMON_LIBC_MALLOC_ARENA_SIZE={config.heap_size}")
    return {
        f"{board.normalized}.overlay": render_overlay(board, config, fstab=False, tool="ocre zephyr init"),
        f"{board.normalized}.conf": "\n".join(conf) + "\n",
    }


def kconfig_settings(board: Board, config: OcreConfig) -> list[tuple[str, str]]:
    """(symbol, value) pairs, in a fixed order; every symbol is in the checked list (tests)."""
    spec = board.storage_for(config.storage_medium)
    out: list[tuple[str, str]] = [("OCRE", "y")]
    for feature, symbols in FEATURES.items():
        on = bool(config.features.get(feature))
        for sym in symbols:
            if sym.startswith("OCRE_"):
                out.append((sym, "y" if on else "n"))
            elif on:
                out.append((sym, "y"))
    out += [
        ("FLASH", "y"),
        ("FLASH_MAP", "y"),
        ("FLASH_PAGE_LAYOUT", "y"),
        ("FILE_SYSTEM", "y"),
        ("FILE_SYSTEM_LITTLEFS", "y"),
        ("DYNAMIC_THREAD_STACK_SIZE", str(config.stack_size)),
    ]
    if spec.placement == "sim-flash":
        out.append(("FLASH_SIMULATOR", "y"))
    if spec.placement == "external":
        out += [("STM32_MEMMAP", "y"), ("OCRE_MERGE_HEX", "y")]
    if config.memory_placement == "internal":
        out.append(("COMMON_LIBC_MALLOC_ARENA_SIZE", str(config.heap_size)))
    else:
        out += [("MEMC", "y"), ("SHARED_MULTI_HEAP", "y")]
    return out


def render_kconfig(board: Board, config: OcreConfig) -> str:
    """The Kconfig fragment (``EXTRA_CONF_FILE``)."""
    lines = [f"# Generated by 'west ocre build' for {board.name} from {config.source}. Do not edit."]
    for sym, value in kconfig_settings(board, config):
        lines.append(f"# CONFIG_{sym} is not set" if value == "n" else f"CONFIG_{sym}={value}")
    return "\n".join(lines) + "\n"
