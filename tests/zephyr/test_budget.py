"""The RAM/flash budget: every supported board fits with defaults; impossible builds are refused."""

from __future__ import annotations

import pytest

from ocre_py.errors import BuildError
from ocre_py.zephyr.board.database import all_boards, get_board
from ocre_py.zephyr.firmware.budget import estimate_budget
from ocre_py.zephyr.project.config import OcreConfig


@pytest.mark.parametrize("board", [b.name for b in all_boards() if b.name != "qemu_cortex_m3"])
def test_defaults_fit(board: str):
    budget = estimate_budget(get_board(board), OcreConfig())
    assert budget.ok, budget.problems
    assert budget.check() is budget


def test_qemu_cortex_m3_refused_with_numbers_and_alternative():
    budget = estimate_budget(get_board("qemu_cortex_m3"), OcreConfig())
    assert not budget.ok
    assert budget.ram_capacity == 64 * 1024
    assert budget.ram_total == sum(budget.ram_items.values()) > 64 * 1024
    with pytest.raises(BuildError) as exc:
        budget.check()
    msg = str(exc.value)
    assert msg.startswith("qemu_cortex_m3: RAM budget exceeded: needs about 400.0 KiB (")
    assert msg.endswith("but the board has 64.0 KiB")
    assert exc.value.hint == (
        "use -b mps2/an385 instead (it has the RAM for WAMR + Ocre), or build the tiny profile with "
        "--profile tiny (WAMR only, containers in a flash bundle; see docs/tiny.md)"
    )


def test_even_a_minimal_config_does_not_fit_qemu_cortex_m3():
    cfg = OcreConfig(heap_size=64 * 1024, stack_size=2048, storage_size=16 * 1024)
    assert not estimate_budget(get_board("qemu_cortex_m3"), cfg).ok


def test_storage_larger_than_the_board_allows():
    budget = estimate_budget(get_board("qemu_x86"), OcreConfig(storage_size=128 * 1024))
    assert budget.problems == ["storage 128.0 KiB exceeds the 64.0 KiB available on internal flash"]


def test_storage_not_a_multiple_of_the_erase_block():
    budget = estimate_budget(
        get_board("b_u585i_iot02a"), OcreConfig(storage_size=12 * 1024, storage_medium="internal")
    )
    assert budget.problems == ["storage 12288 bytes is not a multiple of the 8192-byte erase block"]


def test_heap_below_one_wasm_page():
    budget = estimate_budget(get_board("mps2/an385"), OcreConfig(heap_size=32 * 1024))
    assert budget.problems == ["wamr.heap_size 32.0 KiB is below one 64 KiB WebAssembly page"]


def test_flash_budget_counts_features():
    board = get_board("b_u585i_iot02a")
    base = estimate_budget(board, OcreConfig(storage_medium="internal"))
    rich = estimate_budget(
        board,
        OcreConfig(storage_medium="internal", features={"networking": True, "shell": True, "aot": True}),
    )
    assert rich.rom_total > base.rom_total and {"networking", "shell", "wamr-aot"} <= set(rich.rom_items)
    assert base.rom_capacity == 0xF0000, "code must end where the storage partition starts"


def test_native_sim_ram_is_not_budgeted():
    budget = estimate_budget(get_board("native_sim/native/64"), OcreConfig(heap_size=64 * 1024 * 1024))
    assert budget.ok and budget.ram_capacity is None


def test_external_memory_needs_psram():
    cfg = OcreConfig(memory_placement="external")
    assert estimate_budget(get_board("b_u585i_iot02a"), cfg).ok
    assert estimate_budget(get_board("mps2/an385"), cfg).problems == [
        "memory.placement external needs external RAM (PSRAM), which the board lacks"
    ]
