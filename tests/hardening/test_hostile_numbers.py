"""Hostile containers, measured (issue 7.2): how fast each is stopped and what memory it leaves held.

Inline WebAssembly (``wasmtime.wat2wasm``) keeps each attack to its essence: a bare loop, a
``memory.grow`` bomb, unbounded recursion, a stdout flood into a daemon's capped log. A bystander
container spins next to every attack and must still be RUNNING afterwards. With
``OCRE_RECORD_RELIABILITY=1`` (``make reliability``) the numbers go to ``fuzz/results/hostile.json``
and the report (the ``record`` fixture of ``conftest.py``); otherwise they are only asserted.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from ocre_py.runtime import ContainerSpec, ContainerState, Runtime

_START = '(memory (export "memory") 1) '

WAT = {
    "spin": f'(module {_START}(func (export "_start") (loop $l (br $l))))',
    "grow": (
        f'(module {_START}(func (export "_start")'
        " (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))"  # until refused
        " (memory.fill (i32.const 0) (i32.const 1) (i32.mul (memory.size) (i32.const 65536)))"  # touch it all
        " (loop $s (br $s))))"  # then hold what it got
    ),
    "recurse": (
        f"(module {_START}(func $r (param i32) (result i32) (call $r (i32.add (local.get 0) (i32.const 1))))"
        ' (func (export "_start") (drop (call $r (i32.const 0)))))'
    ),
    "flood": (
        '(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))'
        ' (memory (export "memory") 2) (func (export "_start") (local $i i32)'
        " (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 65536))"
        " (loop $l (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))"
        " (local.set $i (i32.add (local.get $i) (i32.const 1)))"
        " (br_if $l (i32.lt_u (local.get $i) (i32.const 320))))))"  # 320 x 64 KiB = 20 MiB
    ),
}


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile-wat")
    out = {}
    for name, text in WAT.items():
        out[name] = d / f"{name}.wasm"
        out[name].write_bytes(wasmtime.wat2wasm(text))
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


@pytest.fixture
def rt(tmp_path: Path, modules: dict[str, Path]) -> Iterator[Runtime]:
    with Runtime(tmp_path / "wd") as runtime:
        bystander = runtime.create(
            ContainerSpec(image="bystander", module_path=modules["spin"], detached=True)
        )
        runtime.start(bystander.id)
        yield runtime
        assert runtime.status(bystander.id) is ContainerState.RUNNING, "the bystander kept running"
        runtime.kill(bystander.id)
        runtime.wait(bystander.id, timeout=5)


def _run(rt: Runtime, module: Path, **kw: Any) -> str:
    c = rt.create(ContainerSpec(image=module.stem, module_path=module, detached=True, **kw))
    rt.start(c.id)
    return c.id


def test_infinite_loop_is_killed_fast(rt: Runtime, modules: dict[str, Path], record: dict[str, Any]) -> None:
    cid = _run(rt, modules["spin"])
    time.sleep(0.2)
    t0 = time.monotonic()
    rt.kill(cid)
    assert rt.wait(cid, timeout=5) == 137
    ms = (time.monotonic() - t0) * 1000
    assert ms < 100
    record["infinite loop (kill)"] = {"outcome": "killed, exit 137", "stop_ms": round(ms, 1)}


def test_timeout_stops_an_infinite_loop(
    rt: Runtime, modules: dict[str, Path], record: dict[str, Any]
) -> None:
    t0 = time.monotonic()
    cid = _run(rt, modules["spin"], timeout=0.3)
    code = rt.wait(cid, timeout=10)
    over = (time.monotonic() - t0 - 0.3) * 1000
    assert code not in (0, None) and over < 500
    record["infinite loop (--timeout 0.3s)"] = {"outcome": f"stopped, exit {code}", "stop_ms": round(over, 1)}


def test_memory_grow_bomb_is_capped_and_released(
    rt: Runtime, modules: dict[str, Path], record: dict[str, Any]
) -> None:
    before = _rss_mb()
    cid = _run(rt, modules["grow"], memory_limit=32 * 1024 * 1024)
    time.sleep(0.5)  # grows until refused at the cap, then spins holding it
    held = _rss_mb() - before
    assert 16 < held < 64, f"the bomb touched its memory up to the 32 MiB cap and no further: {held:.1f} MB"
    t0 = time.monotonic()
    rt.kill(cid)
    assert rt.wait(cid, timeout=5) == 137
    ms = (time.monotonic() - t0) * 1000
    rt.remove(cid)
    after = _rss_mb() - before
    record["memory.grow bomb (32 MiB cap)"] = {
        "outcome": f"growth refused at the cap; {held:.1f} MB while running; killed",
        "stop_ms": round(ms, 1),
        "rss_delta_mb": round(after, 1),
    }
    assert after < held / 2, f"the container's memory is released when it is removed: {after:.1f} MB held"


def test_deep_recursion_traps_without_harm(
    rt: Runtime, modules: dict[str, Path], record: dict[str, Any]
) -> None:
    t0 = time.monotonic()
    cid = _run(rt, modules["recurse"])
    code = rt.wait(cid, timeout=10)
    ms = (time.monotonic() - t0) * 1000
    assert code not in (0, None)
    record["deep recursion"] = {"outcome": f"stack-overflow trap, exit {code}", "stop_ms": round(ms, 1)}


def test_stdout_flood_is_held_by_the_daemon_log_cap(
    tmp_path: Path, modules: dict[str, Path], record: dict[str, Any]
) -> None:
    from ocre_py.daemon import Daemon, DaemonOptions

    cap, files = 256 * 1024, 3
    daemon = Daemon(tmp_path / "dwd", options=DaemonOptions(log_max_bytes=cap, log_max_files=files))
    try:
        daemon.import_image("flood", modules["flood"].read_bytes())
        daemon.import_image("spin", modules["spin"].read_bytes())
        other = daemon.create({"image": "spin"}, start=True)["id"]
        t0 = time.monotonic()
        cid = daemon.create({"image": "flood"}, start=True)["id"]
        code = daemon.wait(cid, 30)
        ms = (time.monotonic() - t0) * 1000
        on_disk = sum(
            p.stat().st_size for p in (tmp_path / "dwd" / "logs").rglob("*") if p.is_file() and cid in str(p)
        )
        assert code == 0
        assert on_disk <= cap * files + 64 * 1024, (
            f"log cap holds: {on_disk} bytes on disk for 20 MiB written"
        )
        assert daemon.describe(other)["status"].strip() == "RUNNING"
        daemon.kill(other)
    finally:
        daemon.close()
    record["stdout flood, 20 MiB (daemon log cap 3 x 256 KiB)"] = {
        "outcome": f"exited 0; {on_disk // 1024} KiB kept on disk",
        "stop_ms": round(ms, 1),
    }
