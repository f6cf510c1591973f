"""Seed inputs built in memory: a tiny valid module, an image built from it, and its layout tar.

Seeds only need to be valid and small; the fuzzer's mutations do the rest. They are built from
the toolkit's own writers (``build_image``, ``save``) so the targets start from what users have.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

WAT = """
(module
  (type (func (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (import "env" "ocre_sleep" (func (param i32) (result i32)))
  (import "env" "tbl" (table 1 funcref))
  (import "env" "g" (global i32))
  (memory (export "memory") 1 16)
  (global (export "gg") i32 (i32.const 7))
  (func (export "_start"))
  (func (export "add") (type 0) (i32.add (local.get 0) (local.get 1))))
"""


@functools.cache
def wasm_module() -> bytes:
    """A module with every import kind the reader handles, memory limits and exports."""
    import wasmtime

    return bytes(wasmtime.wat2wasm(WAT))


@functools.cache
def runnable_module() -> bytes:
    """A module the linux profile accepts (only WASI imports), for image seeds."""
    import wasmtime

    return bytes(
        wasmtime.wat2wasm(
            '(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))'
            ' (memory (export "memory") 1 2) (func (export "_start")))'
        )
    )


@functools.cache
def image_blobs() -> tuple[bytes, bytes, bytes]:
    """(manifest, config, layout tar) of a real image built and saved by the toolkit."""
    from ocre_py.image import ImageStore, build_image, save

    with tempfile.TemporaryDirectory() as tmp:
        store = ImageStore(Path(tmp) / "store")
        built = build_image(store, "seed:1", runnable_module())
        manifest = store.read_blob(built.digest)
        from ocre_py.image.manifest import parse_manifest

        config = store.read_blob(parse_manifest(manifest).config.digest)
        save(store, ["seed:1"], Path(tmp) / "seed.tar")
        return manifest, config, (Path(tmp) / "seed.tar").read_bytes()


REPO = Path(__file__).resolve().parents[1]


def repo_files(pattern: str) -> list[bytes]:
    """Seed files kept elsewhere in the repository (board files, test device trees...)."""
    return [p.read_bytes() for p in sorted(REPO.glob(pattern)) if p.is_file()]
