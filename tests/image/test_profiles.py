"""Target profiles: which imports each target serves, what a module needs, and the RAM budget."""

from __future__ import annotations

import pytest

from ocre_py.errors import ImageError, InvalidInput
from ocre_py.image.profiles import (
    ENV_FUNCTIONS,
    check_memory,
    check_module,
    profile,
    required_features,
    unsupported_imports,
)
from ocre_py.image.wasm import WasmModule, parse_module

wasmtime = pytest.importorskip("wasmtime")

GPIO_AND_TIMERS = """
(module
  (import "env" "ocre_timer_create" (func (param i32) (result i32)))
  (import "env" "ocre_get_event" (func (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "ocre_gpio_pin_set" (func (param i32 i32 i32) (result i32)))
  (import "env" "ocre_msg_system_init" (func (result i32)))
  (import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 3)
  (func (export "_start")))
"""


@pytest.fixture
def module() -> WasmModule:
    return parse_module(wasmtime.wat2wasm(GPIO_AND_TIMERS), source="inline")


def test_function_table_has_every_gated_native_of_the_spec() -> None:
    # 2 always + 2 event + 5 timer + 3 messaging + 13 gpio + 13 sensors + 2 shared heap
    assert len(ENV_FUNCTIONS) == 40
    assert ENV_FUNCTIONS["ocre_sensors_read_by_name"] == "sensors"
    assert ENV_FUNCTIONS["ocre_register_dispatcher"] == "events"


def test_required_features_follow_the_imports(module: WasmModule) -> None:
    assert required_features(module) == ["events", "timers", "gpio", "networking"]


def test_linux_lists_unknown_natives_and_wamr_sockets(module: WasmModule) -> None:
    assert unsupported_imports(module, profile("linux")) == [
        "env.ocre_msg_system_init",
        "wasi_snapshot_preview1.sock_open",
    ]


def test_zephyr_board_features_narrow_what_is_served(module: WasmModule) -> None:
    target = profile("zephyr", features=["timers"])
    assert unsupported_imports(module, target) == [
        "env.ocre_gpio_pin_set",
        "env.ocre_msg_system_init",
        "wasi_snapshot_preview1.sock_open",
    ]
    full = profile("zephyr:timers,gpio,networking")
    assert unsupported_imports(module, full) == ["env.ocre_msg_system_init"]


def test_check_module_names_every_missing_import_in_one_line(module: WasmModule) -> None:
    with pytest.raises(ImageError) as err:
        check_module(module, profile("zephyr:timers"), source="app.wasm")
    text = str(err.value)
    assert text == (
        "app.wasm: imports not supported by target zephyr:timers: env.ocre_gpio_pin_set, "
        "env.ocre_msg_system_init, wasi_snapshot_preview1.sock_open"
    )


def test_events_gate_needs_one_event_feature() -> None:
    events_only = parse_module(
        wasmtime.wat2wasm(
            '(module (import "env" "ocre_get_event" (func (param i32 i32 i32 i32 i32 i32) (result i32))))'
        ),
    )
    assert unsupported_imports(events_only, profile("zephyr:filesystem")) == ["env.ocre_get_event"]
    assert unsupported_imports(events_only, profile("zephyr:sensors")) == []


def test_memory_budget(module: WasmModule) -> None:
    check_memory(module, 3 * 65536, source="app.wasm")
    with pytest.raises(ImageError, match=r"needs 196608 bytes .* RAM budget of 131072"):
        check_memory(module, 2 * 65536, source="app.wasm")


@pytest.mark.parametrize("target", ["windows", "linux:gpio", "zephyr:lasers"])
def test_bad_targets_are_invalid_input(target: str) -> None:
    with pytest.raises(InvalidInput):
        profile(target)


def test_zephyr_target_refuses_what_the_ocre_core_wamr_cannot_load(tmp_path, ocre_cli) -> None:  # type: ignore[no-untyped-def]
    """Issue 11: an image for a Zephyr target is checked against the Ocre core's WAMR options too
    (reference types and overlong indexes: yes; SIMD: no), not only its imports."""
    from ocre_py.image.wamr import OCRE_CORE
    from ocre_py.image.wasm import scan_code

    simd = bytes(wasmtime.wat2wasm('(module (func (export "_start") (drop (v128.const i32x4 0 0 0 0))))'))
    refs = bytes(
        wasmtime.wat2wasm('(module (table 1 funcref) (func (export "_start") (drop (table.size 0))))')
    )
    with pytest.raises(ImageError, match=r"uses simd \(firmware built without WAMR_BUILD_SIMD\)"):
        OCRE_CORE.require_loadable(scan_code(simd), source="simd.wasm")
    assert scan_code(refs).proposals == {"reference-types"} and OCRE_CORE.problems(scan_code(refs)) == []
    (tmp_path / "simd.wasm").write_bytes(simd)
    r = ocre_cli("image", "build", "-t", "simd:1", "--target", "zephyr", str(tmp_path / "simd.wasm"))
    assert r.code != 0 and "WAMR of the Ocre core" in r.err and "WAMR_BUILD_SIMD" in r.err
    r = ocre_cli("image", "build", "-t", "simd:1", "--target", "linux", str(tmp_path / "simd.wasm"))
    assert r.code == 0, r.err  # wasmtime runs SIMD
