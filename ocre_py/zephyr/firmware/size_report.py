"""Zephyr's own size report (``west build -t rom_report`` / ``ram_report``) as a component footprint.

Zephyr's ``scripts/footprint/size_report`` attributes every symbol to its source file through DWARF
and writes ``rom.json`` / ``ram.json`` into the build directory: a tree ``{"symbols": {name, size,
identifier, children}, "total_size"}`` whose top nodes are ``ZEPHYR_BASE``, ``WORKSPACE``,
``OUTPUT_DIR``, ``/``, ``(no paths)`` and ``(hidden)`` (bytes without a symbol). In a workspace that
is a better source than our symbol-name rules (:mod:`ocre_py.zephyr.firmware.footprint`), so
``west ocre footprint`` prefers it and keeps the pyelftools attribution as the fallback when the
reports cannot be made (no Zephyr tree, or size_report fails on the ELF's DWARF).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ocre_py.errors import InvalidInput
from ocre_py.zephyr.firmware.footprint import Footprint, analyze_elf, classify
from ocre_py.zephyr.project import build_dir as bdir

#: Source-path fragments → component, first match wins (paths as size_report records them).
PATH_RULES: tuple[tuple[str, str], ...] = (
    ("wasm-micro-runtime/", "wamr"),
    ("ocre-runtime/", "ocre"),
    ("zephyr_app/src/", "app"),
    ("lib/libc/", "libc"),
    ("drivers/", "drivers"),
    ("subsys/", "subsys"),
    ("modules/fs/", "subsys"),
    ("kernel/", "kernel"),
    ("arch/", "kernel"),
    ("soc/", "kernel"),
    ("boards/", "kernel"),
)
MAX_REPORT = 64 * 1024 * 1024  # a size report of a firmware is a few MB at most


def component_of(identifier: str, symbol: str) -> str:
    """The component of one leaf: by its source path, else by the symbol's name (footprint rules)."""
    path = identifier.replace("\\", "/")
    for fragment, component in PATH_RULES:
        if fragment in path or path.startswith(fragment):
            return component
    return classify(symbol)


def _leaves(node: dict[str, Any], top: str | None = None) -> list[tuple[str, str, str, int]]:
    """(top node, identifier, name, size) of every leaf below ``node``."""
    children = node.get("children") or []
    if not children:
        return [(top or node.get("name", ""), str(node.get("identifier", "")), str(node.get("name", "")),
                 int(node.get("size", 0)))]  # fmt: skip
    out = []
    for child in children:
        out += _leaves(child, top if top is not None else str(child.get("name", "")))
    return out


def read_report(path: Path) -> tuple[dict[str, int], int, int]:
    """(component → bytes, bytes without a symbol, total) of one ``rom.json``/``ram.json``."""
    try:
        if path.stat().st_size > MAX_REPORT:
            raise InvalidInput.field(None, "size report", str(path), f"at most {MAX_REPORT} bytes")
        data = json.loads(path.read_text())
        root, total = data["symbols"], int(data["total_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput.field(
            None, "size report", str(path), f"Zephyr's size_report JSON ({exc})"
        ) from None
    sizes: dict[str, int] = {}
    hidden = 0
    for top, identifier, name, size in _leaves(root):
        if top == "(hidden)":
            hidden += size
            continue
        comp = component_of(identifier, name)
        sizes[comp] = sizes.get(comp, 0) + size
    return sizes, hidden, total


def from_reports(build_dir: Path, elf: str = "") -> Footprint | None:
    """The footprint from ``rom.json`` and ``ram.json`` in ``build_dir``, or None if either is missing."""
    rom_path, ram_path = build_dir / "rom.json", build_dir / "ram.json"
    if not (rom_path.is_file() and ram_path.is_file()):
        return None
    fp = Footprint(elf=elf or str(build_dir / "zephyr" / "zephyr.elf"), source="zephyr size_report")
    rom, rom_hidden, _ = read_report(rom_path)
    ram, ram_hidden, _ = read_report(ram_path)
    for comp, size in rom.items():
        fp.components[comp].rom += size
    for comp, size in ram.items():
        fp.components[comp].ram += size
    fp.unattributed.rom, fp.unattributed.ram = rom_hidden, ram_hidden
    return fp


def make_reports(build_dir: Path) -> str | None:
    """Run ``west build -d BUILD -t rom_report`` and ``ram_report``; None on success, else why not.

    Needs a Zephyr tree (``ZEPHYR_BASE``) and a configured build; the reports are regenerated each
    time so they match the ELF.
    """
    if not os.environ.get("ZEPHYR_BASE"):
        return "no Zephyr tree (ZEPHYR_BASE unset)"
    if not bdir.is_configured(build_dir):
        return f"{build_dir} is not a configured Zephyr build"
    for target in ("rom_report", "ram_report"):
        cmd = [sys.executable, "-m", "west", "build", "-d", str(build_dir), "-t", target]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            lines = [x for x in (proc.stderr + proc.stdout).splitlines() if x.strip()]
            error = next((x for x in reversed(lines) if "Error" in x), lines[-1] if lines else "")
            return f"'west build -t {target}' failed: {error.strip()}"
    return None


def footprint_of_build(build_dir: Path, *, elf: Path | None = None) -> Footprint:
    """The footprint of a build: Zephyr's size report when it can be made (a workspace), else the
    symbol attribution of :func:`analyze_elf` with the reason in ``note``. ``elf`` skips the report."""
    if elf is not None:
        return analyze_elf(elf)
    path = bdir.zephyr_elf(build_dir)
    app_dir = bdir.app_dir(build_dir)
    why = make_reports(app_dir)
    fp = from_reports(app_dir, str(path)) if why is None else None
    if fp is not None:
        return fp
    fp = analyze_elf(path)
    fp.note = (
        f"Zephyr's size report not used: {why or 'rom.json/ram.json missing'}; attributed by symbol names"
    )
    return fp
