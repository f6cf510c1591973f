"""Fuzz ``ocre image load``: OCI image-layout tar archives from anywhere.

Besides "only our errors", a refused archive must leave the store exactly as it was (load is
all-or-nothing), so the target compares the store's file list before and after a failure.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from fuzz._seeds import image_blobs
from ocre_py.errors import OcreError
from ocre_py.image import ImageStore, load

PARSER = "ocre_py.image.layout_tar.load"

_TMP = Path(tempfile.mkdtemp(prefix="ocre-fuzz-tar-"))
atexit.register(shutil.rmtree, _TMP, True)
_STORE = ImageStore(_TMP / "store")


def seeds() -> list[bytes]:
    return [image_blobs()[2]]


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


def check(data: bytes) -> None:
    archive = _TMP / "in.tar"
    archive.write_bytes(data)
    before = _files(_STORE.root) if _STORE.root.exists() else set()
    try:
        refs = load(_STORE, archive)
    except OcreError:
        after = _files(_STORE.root) if _STORE.root.exists() else set()
        assert after == before, f"a refused archive changed the store: {sorted(after ^ before)}"
        raise
    assert refs


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_layout_tar"))
