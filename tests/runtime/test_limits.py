"""Memory caps, wall-clock timeouts and CPU budgets stop runaway containers."""

from __future__ import annotations

import time
from pathlib import Path

from ocre_py.runtime import EXIT_CPU_BUDGET, EXIT_TIMEOUT, Runtime


def test_memory_cap_makes_malloc_fail_not_trap(runtime: Runtime, start, misbehave: Path) -> None:
    capped = start(misbehave, "memhog", memory_limit=4 * 1024 * 1024)
    assert runtime.wait(capped.container.id, timeout=20) == 0
    allocated = int(capped.out.split("allocated ")[1])
    assert 2 * 1024 * 1024 < allocated < 4 * 1024 * 1024


def test_timeout_kills_a_spinning_container(runtime: Runtime, start, misbehave: Path) -> None:
    t0 = time.monotonic()
    run = start(misbehave, "spin", timeout=0.5)
    assert runtime.wait(run.container.id, timeout=10) == EXIT_TIMEOUT
    assert 0.45 < time.monotonic() - t0 < 3


def test_cpu_budget_kills_compute_but_not_sleep(runtime: Runtime, start, misbehave: Path) -> None:
    spin = start(misbehave, "spin", cpu_budget=0.3)
    assert runtime.wait(spin.container.id, timeout=20) == EXIT_CPU_BUDGET
    sleeper = start(misbehave, "sleep", "700", cpu_budget=0.3)
    assert runtime.wait(sleeper.container.id, timeout=10) == 0, "sleeping uses no CPU budget"


def test_deep_recursion_traps_cleanly(runtime: Runtime, start, misbehave: Path) -> None:
    run = start(misbehave, "recurse")
    assert runtime.wait(run.container.id, timeout=20) == 134
    # The C shadow stack (in linear memory) runs out before wasmtime's native stack limit.
    assert "trapped: wasm trap: out of bounds memory access" in run.out
    assert "more frames" in run.out, "the backtrace is capped"
