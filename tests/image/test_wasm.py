"""The wasm binary reader: real example modules, inline WAT edge cases, and garbage input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocre_py.errors import ImageError
from ocre_py.image.wasm import MemoryLimits, is_aot, parse_module

wasmtime = pytest.importorskip("wasmtime")  # only the tests use it, to compile WAT

IMPORTED_MEMORY = """
(module
  (import "env" "memory" (memory 2 64))
  (import "env" "ocre_timer_create" (func (param i32) (result i32)))
  (import "env" "ocre_sensors_read" (func (param i32 i32) (result f64)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (func (export "_start"))
  (export "memory" (memory 0)))
"""


def test_reads_imports_exports_and_memory_of_a_real_container(examples: dict[str, Path]) -> None:
    module = parse_module(examples["hello"].read_bytes(), source="hello.wasm")
    names = {i.qualified for i in module.imports}
    assert "wasi_snapshot_preview1.fd_write" in names
    assert "wasi_snapshot_preview1.proc_exit" in names
    assert {"_start", "memory", "malloc", "free"} <= module.export_names
    assert module.memory is not None and module.memory.minimum >= 1
    assert module.memory_imported is False


def test_reads_imported_memory_limits_and_signatures() -> None:
    module = parse_module(wasmtime.wat2wasm(IMPORTED_MEMORY), source="inline")
    assert module.memory == MemoryLimits(2, 64)
    assert module.memory_imported
    assert module.memory.max_bytes == 64 * 65536
    sigs = {i.name: i.signature for i in module.function_imports}
    assert sigs == {
        "ocre_timer_create": "(i32)->i32",
        "ocre_sensors_read": "(i32,i32)->f64",
        "proc_exit": "(i32)->",
    }


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        pytest.param(b"", "no \\0asm magic", id="empty"),
        pytest.param(b"PK\x03\x04 a zip file", "no \\0asm magic", id="zip"),
        pytest.param(b"\0asm\x02\0\0\0", "unsupported wasm binary version", id="version"),
        pytest.param(b"\0aot\x03\0\0\0", "WAMR AOT file", id="aot"),
        pytest.param(b"\0asm\x01\0\0\0\x02\x10\x01", "runs past the end", id="section-past-end"),
    ],
)
def test_rejects_non_modules_with_one_line(data: bytes, fragment: str) -> None:
    with pytest.raises(ImageError) as err:
        parse_module(data, source="x.wasm")
    assert fragment in str(err.value)
    assert str(err.value).startswith("x.wasm: ")
    assert "\n" not in str(err.value)


def test_truncated_module_is_an_image_error() -> None:
    data = wasmtime.wat2wasm(IMPORTED_MEMORY)
    with pytest.raises(ImageError, match="not a valid wasm module"):
        parse_module(data[: len(data) // 2], source="half.wasm")


def test_aot_magic_is_recognised() -> None:
    assert is_aot(b"\0aot\x03\0\0\0rest")
    assert not is_aot(b"\0asm\x01\0\0\0")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=200))
def test_arbitrary_bytes_never_crash_the_reader(tail: bytes, cut: int) -> None:
    data = wasmtime.wat2wasm(IMPORTED_MEMORY)
    mangled = data[: min(cut, len(data))] + tail
    try:
        parse_module(mangled, source="fuzz")
    except ImageError:
        pass
