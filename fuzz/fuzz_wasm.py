"""Fuzz the wasm module/import reader: any bytes in, a WasmModule or an ImageError out."""

from __future__ import annotations

from fuzz._seeds import runnable_module, wasm_module
from ocre_py.image.wasm import parse_module

PARSER = "ocre_py.image.wasm.parse_module"


def seeds() -> list[bytes]:
    return [wasm_module(), runnable_module(), b"\0asm\x01\0\0\0", b"\0aot\x01\0\0\0"]


def check(data: bytes) -> None:
    module = parse_module(data, source="fuzz")
    assert module.size == len(data)
    for imp in module.imports:
        assert isinstance(imp.module, str) and isinstance(imp.name, str)


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_wasm"))
