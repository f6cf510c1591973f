"""Runtime benchmarks (issue 2): start-up against a minimal wasmtime-py script, and CPU-bound
containers against the same C compiled natively with ``-O2``. Both use the compiled-module cache
warm (a second run never recompiles), which is what a user sees from the second run on."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent
MINIMAL = """
import sys, wasmtime
engine = wasmtime.Engine(); store = wasmtime.Store(engine)
wasi = wasmtime.WasiConfig(); wasi.argv = [sys.argv[1]]; wasi.inherit_stdout(); store.set_wasi(wasi)
linker = wasmtime.Linker(engine); linker.define_wasi()
module = wasmtime.Module.from_file(engine, sys.argv[1])
try:
    linker.instantiate(store, module).exports(store)["_start"](store)
except wasmtime.ExitTrap as exc:
    sys.exit(exc.code)
"""


def _time(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def _exec_time(wasm: Path, runs: int) -> float:
    """Execution alone (instantiate + run, module cached), through the library as ``ocre run`` does."""
    from ocre_py.runtime import ContainerSpec, Runtime

    samples = []
    with tempfile.TemporaryDirectory() as wd, Runtime(wd, exclusive=False, interruptible=False) as rt:
        for _ in range(runs):
            c = rt.create(ContainerSpec(image=wasm.name, module_path=wasm, stdout=None, stderr=None))
            t0 = time.perf_counter()
            rt.start(c.id)
            rt.wait(c.id)
            samples.append(time.perf_counter() - t0)
            rt.remove(c.id)
    return statistics.median(samples)


def run(runs: int = 15) -> dict[str, object]:
    from ocre_py.sdk import BuildOptions, build_container

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        hello = build_container([REPO / "examples/hello/hello.c"], tmp / "hello.wasm").output
        minimal = tmp / "minimal.py"
        minimal.write_text(MINIMAL)
        ocre = [sys.executable, "-m", "ocre_py", "run", str(hello)]
        subprocess.run(ocre, stdout=subprocess.DEVNULL, check=True)  # warm the module cache
        t_ocre = _time(ocre, runs)
        t_min = _time([sys.executable, str(minimal), str(hello)], runs)
        results: dict[str, object] = {
            "hello_ocre_run_ms": round(t_ocre * 1000, 1),
            "hello_minimal_wasmtime_py_ms": round(t_min * 1000, 1),
            "hello_ratio": round(t_ocre / t_min, 2),
            "hello_target_ratio": 1.5,
        }
        for name in ("primes", "sha256"):
            src = HERE / "programs" / f"{name}.c"
            wasm = build_container([src], tmp / f"{name}.wasm", BuildOptions(optimize="-O2")).output
            native = tmp / name
            subprocess.run(["gcc", "-O2", "-o", str(native), str(src)], check=True)
            cmd = [sys.executable, "-m", "ocre_py", "run", str(wasm)]
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)  # compile once into the cache
            t_wasm, t_native = _time(cmd, 3), _time([str(native)], 3)
            results[f"{name}_ocre_s"] = round(t_wasm, 3)
            results[f"{name}_native_O2_s"] = round(t_native, 3)
            results[f"{name}_ratio"] = round(t_wasm / t_native, 2)
            t_exec = _exec_time(wasm, 3)
            results[f"{name}_exec_only_s"] = round(t_exec, 3)
            results[f"{name}_exec_only_ratio"] = round(t_exec / t_native, 2)
        results["cpu_target_ratio"] = 1.3
        results["note"] = (
            "*_ratio: whole `ocre run` command (Python + wasmtime start-up included) vs the native binary; "
            "*_exec_only: instantiate + run through the library. wasm: clang-19; native: gcc -O2."
        )
    return results
