"""Client start-up (issue 14): Docker's client–daemon model, as ratios measured in the same run.

Targets: ``ocre ps`` against a running daemon ≤ 2.5× ``python -c pass``; attached ``ocre run hello``
through the daemon ≤ 3.5× ``python -c pass``; the daemon-less ``ocre run hello`` (no daemon at the
default socket) ≤ 1.5× a minimal wasmtime-py script. The commands take turns, one sample each per
round, so a change of machine load hits them alike; medians are reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_runtime import MINIMAL, REPO


def _round_robin(commands: dict[str, tuple[list[str], dict[str, str]]], rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, (cmd, env) in commands.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env, check=True)
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


def run(rounds: int = 20) -> dict[str, object]:
    from ocre_py.sdk import build_container

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        hello = build_container([REPO / "examples/hello/hello.c"], tmp / "hello.wasm").output
        (tmp / "minimal.py").write_text(MINIMAL)
        base = {k: v for k, v in os.environ.items() if k != "OCRE_HOST"}
        with_daemon = {**base, "OCRE_HOME": str(tmp / "home")}
        no_daemon = {**base, "OCRE_HOME": str(tmp / "alone")}
        ocre = [sys.executable, "-m", "ocre_py"]
        daemon = subprocess.Popen(
            [*ocre, "daemon"], env=with_daemon, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while subprocess.run([*ocre, "ps"], env=with_daemon, capture_output=True).returncode:
                if time.monotonic() > deadline:
                    raise RuntimeError("the daemon did not answer within 30 s")
                time.sleep(0.1)
            commands = {
                "pass": ([sys.executable, "-c", "pass"], base),
                "ps": ([*ocre, "ps"], with_daemon),
                "run_daemon": ([*ocre, "run", str(hello)], with_daemon),
                "run_local": ([*ocre, "run", str(hello)], no_daemon),
                "minimal": ([sys.executable, str(tmp / "minimal.py"), str(hello)], base),
            }
            for cmd, env in commands.values():  # warm both module caches and the daemon's image
                subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env, check=True)
            t = _round_robin(commands, rounds)
        finally:
            daemon.terminate()
            daemon.wait(30)
    ms = {name: round(v * 1000, 1) for name, v in t.items()}
    return {
        "python_c_pass_ms": ms["pass"],
        "ps_ms": ms["ps"],
        "ps_ratio": round(t["ps"] / t["pass"], 2),
        "ps_target_ratio": 2.5,
        "run_via_daemon_ms": ms["run_daemon"],
        "run_via_daemon_ratio": round(t["run_daemon"] / t["pass"], 2),
        "run_via_daemon_target_ratio": 3.5,
        "run_daemonless_ms": ms["run_local"],
        "minimal_wasmtime_py_ms": ms["minimal"],
        "run_daemonless_ratio": round(t["run_local"] / t["minimal"], 2),
        "run_daemonless_target_ratio": 1.5,
        "note": "ratios of medians; python -c pass and the minimal wasmtime-py script use the same "
        "interpreter (sys.executable); the daemon's containers are left in its temp workdir.",
    }
