"""``ocre zephyr footprint`` / ``west ocre footprint``: ROM/RAM of a firmware by component."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "footprint",
        help="ROM and RAM by component (WAMR, Ocre, kernel, libc, drivers, app, containers)",
        description="In a workspace, Zephyr's own size report (west build -t rom_report/ram_report) "
        "grouped by component; else the ELF's symbols and sections attributed by name (pyelftools).",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("-d", "--build-dir", default="build", help="build directory (default: build)")
    src.add_argument("--elf", help="ELF file to analyse")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--png", metavar="FILE", help="also write a bar chart as PNG")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ocre_py.cli.output import print_json, print_table
    from ocre_py.zephyr.firmware.size_report import footprint_of_build

    fp = footprint_of_build(Path(args.build_dir), elf=Path(args.elf) if args.elf else None)
    if fp.note:
        sys.stderr.write(f"note: {fp.note}\n")
    if args.png:
        from ocre_py.zephyr.firmware.chart import write_footprint_png

        write_footprint_png(fp, Path(args.png))
    if args.json:
        print_json(fp.to_dict())
        return 0
    rows = []
    for name, size in [*fp.components.items(), ("unattributed", fp.unattributed)]:
        rom_pct = f"{100 * size.rom / fp.rom_total:.1f}%" if fp.rom_total else "-"
        ram_pct = f"{100 * size.ram / fp.ram_total:.1f}%" if fp.ram_total else "-"
        rows.append([name, size.rom, rom_pct, size.ram, ram_pct])
    rows.append(["total", fp.rom_total, "", fp.ram_total, ""])
    sys.stdout.write(f"{fp.elf} ({fp.source})\n")
    print_table(["COMPONENT", "ROM", "ROM%", "RAM", "RAM%"], rows)
    if args.png:
        sys.stdout.write(f"chart: {args.png}\n")
    return 0
