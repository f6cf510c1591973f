"""Fuzz the DTS reader and the storage-partition geometry computed from it."""

from __future__ import annotations

from fuzz._seeds import repo_files
from ocre_py.zephyr.board import devicetree as dts
from ocre_py.zephyr.board import geometry

PARSER = "ocre_py.zephyr.board.devicetree.parse + geometry.from_tree"


def seeds() -> list[bytes]:
    return repo_files("tests/deploy/dts/*.dts") or [b"/dts-v1/;\n/ { };\n"]


def check(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    tree = dts.parse(text, source="fuzz")
    geo = geometry.from_tree(tree)
    assert geo.size > 0 and geo.size % geo.erase_block == 0


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_dts"))
