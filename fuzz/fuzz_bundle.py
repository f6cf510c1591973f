"""Fuzz the flash-bundle reader (tiny profile), which must agree with the firmware's C checks."""

from __future__ import annotations

import functools

from fuzz._seeds import runnable_module
from ocre_py.zephyr.storage.bundle import BundleWriter, read_bundle

PARSER = "ocre_py.zephyr.storage.bundle.read_bundle"


@functools.cache
def _seed() -> bytes:
    writer = BundleWriter()
    writer.add("hello", runnable_module(), args=["a", "b"], env=["K=V"])
    writer.add("two", runnable_module())
    return writer.build()


def seeds() -> list[bytes]:
    return [_seed()]


def check(data: bytes) -> None:
    bundle = read_bundle(data, source="fuzz")
    for entry in bundle.entries:
        assert entry.module.startswith(b"\0asm")


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_bundle"))
