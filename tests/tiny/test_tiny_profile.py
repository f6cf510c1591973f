"""Tiny containers and the tiny budget: `ocre build --tiny` output is shrinkable by WAMR's loader
rules, ordinary WASI builds are not, and the qemu_cortex_m3 budget adds up and refuses with numbers.
Also runs the tiny firmware's pure-C timer/event core on the host under ASan/UBSan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import wasmtime

from ocre_py.errors import BuildError, DeployError, ImageError
from ocre_py.image.tiny_module import analyse_module
from ocre_py.image.wamr import TINY
from ocre_py.image.wasm import scan_code
from ocre_py.sdk.tiny import TINY_LDFLAGS, build_tiny, tiny_options
from ocre_py.zephyr.storage import bundle as b
from ocre_py.zephyr.tiny.budget import budget
from ocre_py.zephyr.tiny.profile import QEMU_CORTEX_M3, target_for, unserved_imports
from tests.conftest import EXAMPLES_DIR


def test_tiny_options_are_one_page_with_the_shrink_exports() -> None:
    opts = tiny_options()
    assert opts.memory_initial == opts.memory_max == 65536
    assert not opts.export_allocator and not opts.import_memory
    assert set(TINY_LDFLAGS) <= set(opts.extra_ldflags)
    assert (
        "-Wl,--export=__heap_base" in opts.extra_ldflags and "-Wl,--export=__data_end" in opts.extra_ldflags
    )


def test_tiny_hello_is_shrunk_to_its_heap_base(tiny_containers) -> None:  # type: ignore[no-untyped-def]
    mod = analyse_module(tiny_containers["hello"].read_bytes(), source="hello")
    assert mod.memory_pages == mod.memory_max_pages == 1
    assert not mod.grows_memory and mod.shrinkable
    assert mod.heap_base is not None and mod.linear_memory == (mod.heap_base + 7) // 8 * 8
    assert mod.linear_memory < 16 * 1024  # instead of a whole 64 KiB page
    assert mod.stack_pointer == 4096  # --stack-first: the stack sits below the data
    assert unserved_imports(mod) == []


def test_tiny_hello_still_runs_on_wasmtime(tiny_containers) -> None:  # type: ignore[no-untyped-def]
    """The arena allocator and argv/environ set-up work: same output as the ordinary build."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["hello", "tiny"]
    wasi.env = [("GREETING", "Hi")]
    out = Path("stdout.txt")
    wasi.stdout_file = str(out)
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module.from_file(engine, str(tiny_containers["hello"]))
    instance = linker.instantiate(store, module)
    try:
        instance.exports(store)["_start"](store)  # returning from main → exit 0 without a trap
    except wasmtime.ExitTrap as exc:
        assert exc.code == 0
    assert out.read_text().splitlines()[0] == "Hi, tiny! powered by Ocre"


def test_an_ordinary_wasi_build_is_refused_with_the_reason(tmp_path: Path) -> None:
    from ocre_py.sdk import BuildOptions, build_container

    out = tmp_path / "hello.wasm"
    build_container(
        [EXAMPLES_DIR / "hello" / "hello.c"], out, BuildOptions(stack_size=8192, memory_max=131072)
    )
    mod = analyse_module(out.read_bytes(), source=str(out))
    assert mod.grows_memory and not mod.shrinkable and mod.linear_memory == 2 * 65536
    with pytest.raises(
        BuildError,
        match=r"uses memory.grow/memory.size, so WAMR cannot shrink its memory \(131072 bytes at most\)",
    ):
        mod.require_shrinkable()


def test_missing_shrink_exports_are_named() -> None:
    wasm = wasmtime.wat2wasm(
        '(module (memory 1 1) (global (mut i32) (i32.const 1024)) (func (export "_start")))'
    )
    mod = analyse_module(bytes(wasm), source="m.wasm")
    with pytest.raises(BuildError, match="exports __heap_base, __data_end missing"):
        mod.require_shrinkable()


def test_analysis_sees_memory_grow_behind_other_instructions() -> None:
    wat = """(module (memory 1 1)
      (func (export "_start") (local i32)
        (block (loop (br_if 1 (i32.const 0)) (br_table 0 1 (i32.const 0))))
        (drop (f64.const 1.5)) (drop (i64.const -1))
        (i32.store offset=8 (i32.const 0) (i32.const 7))
        (drop (memory.grow (i32.const 0)))))"""
    assert analyse_module(bytes(wasmtime.wat2wasm(wat))).grows_memory
    assert not analyse_module(
        bytes(wasmtime.wat2wasm(wat.replace("(drop (memory.grow (i32.const 0)))", "")))
    ).grows_memory


def test_simd_is_refused_for_the_classic_interpreter() -> None:
    wasm = wasmtime.wat2wasm('(module (func (export "_start") (drop (v128.const i32x4 0 0 0 0))))')
    assert analyse_module(bytes(wasm)).code.proposals == {"simd"}
    with pytest.raises(ImageError, match=r"uses simd \(firmware built without WAMR_BUILD_SIMD\)"):
        TINY.require_loadable(scan_code(bytes(wasm)), source="m.wasm")


def test_qemu_cortex_m3_budget_with_hello_fits(tiny_containers) -> None:  # type: ignore[no-untyped-def]
    w = b.BundleWriter()
    w.add("hello", tiny_containers["hello"].read_bytes())
    plan = budget(QEMU_CORTEX_M3, b.read_bundle(w.build())).require_fits()
    assert plan.flash_code <= QEMU_CORTEX_M3.code_size == 0x30000
    assert plan.bundle_size <= 0x10000 and plan.ram_fixed <= 64 * 1024
    ((name, need),) = plan.containers
    assert name == "hello" and need <= plan.pool
    items = [row[0] for row in plan.table()]
    assert "flash: WAMR classic interpreter" in items and "pool: container hello" in items


def test_budget_refuses_with_the_numbers(tiny_containers, examples) -> None:  # type: ignore[no-untyped-def]
    w = b.BundleWriter()
    w.add("blinky", examples["blinky"].read_bytes())  # ordinary build: grows memory, uses GPIO
    plan = budget(QEMU_CORTEX_M3, b.read_bundle(w.build()))
    assert not plan.fits
    with pytest.raises(DeployError) as info:
        plan.require_fits()
    text = str(info.value)
    assert "container blinky: linear memory not shrinkable (" in text
    assert "imports what the tiny profile does not serve: env.ocre_gpio_" in text
    small = target_for("tinyboard", flash_size=128 * 1024, ram_size=32 * 1024)
    w2 = b.BundleWriter()
    w2.add("hello", tiny_containers["hello"].read_bytes())
    with pytest.raises(DeployError, match=r"container hello needs \d+ bytes of WAMR pool, the pool has \d+"):
        budget(small, b.read_bundle(w2.build())).require_fits()


def test_unknown_board_needs_sizes() -> None:
    with pytest.raises(DeployError, match="board 'nosuch': the tiny profile needs its flash and RAM sizes"):
        target_for("nosuch")


def test_timer_core_on_the_host(host_natives_test: Path) -> None:
    proc = subprocess.run([str(host_natives_test)], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok ")


def test_tiny_build_cli_refuses_a_missing_source(capsys) -> None:  # type: ignore[no-untyped-def]
    from ocre_py.cli.tiny_tools import main

    assert main(["build", "nosuch.c", "-o", "x.wasm"]) == 2
    assert "source file 'nosuch.c': expected an existing C file" in capsys.readouterr().err
    assert not Path("x.wasm").exists()


def test_build_tiny_converts_plain_options(tmp_path: Path) -> None:
    res = build_tiny([EXAMPLES_DIR / "hello" / "hello.c"], tmp_path / "h.wasm")
    assert analyse_module(res.output.read_bytes()).shrinkable
