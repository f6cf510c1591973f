"""Daemon benchmarks: start latency through the API, and the memory of 1,000 idle containers.

``run()`` returns a dict of numbers for ``docs/benchmarks.md``:

- ``start_latency_ms_median`` (goal ≤ 2 ms): from a client process sending
  ``POST /v1/containers/ID/start`` over the Unix socket (on its kept-alive connection, as a host
  tool makes many calls; ``..._new_connection_...``: a fresh connection per call, as a one-shot
  CLI command) to the container's first instruction. That
  instruction is a call to ``ocre_publish_message``; a host subscription inside the daemon stamps
  it, and both processes read CLOCK_MONOTONIC. The compiled module is cached (as after the first
  run of an image). The daemon runs in this process so it can stamp the call.
- ``idle_rss_mb`` (the daemon process before any container), ``rss_1000_mb`` and
  ``per_container_kb`` (goal ≤ 1 MB): a child ``ocre daemon`` process with 1,000 C containers
  sleeping in ``ocre_sleep``, measured from ``/proc/<pid>/status`` (VmRSS).
- ``dockerd_idle_rss_mb``: the published dockerd figures this is compared against.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

IDLE_C = """
#include "ocre_api.h"
int main(void) {
    for (;;)
        ocre_sleep(3600000);
}
"""

# _start publishes one byte on topic "t" as its very first call: the host sees the first instruction.
FIRST_CALL_WAT = """
(module
  (import "env" "ocre_publish_message" (func $pub (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "t\\00")
  (data (i32.const 8) "c\\00")
  (data (i32.const 16) "x")
  (func (export "_start") (drop (call $pub (i32.const 0) (i32.const 8) (i32.const 16) (i32.const 1)))))
"""

DOCKERD_IDLE_RSS_MB = (54, 89)


def _rss(pid: int | str) -> int:
    from ocre_py.daemon.procstat import rss_bytes

    return rss_bytes(pid)


# The client is its own process, as a CLI or host tool is: it stamps the moment it sends the start
# request. perf_counter is CLOCK_MONOTONIC on Linux, one clock for every process on the machine.
CLIENT = """
import json, sys, time
from ocre_py.daemon import DaemonClient
client = DaemonClient.connect(sys.argv[1])
for line in sys.stdin:
    t0 = time.perf_counter()
    kind, _, cid = line.strip().partition(" ")
    if kind == "ping":
        client.version()
    elif kind == "fresh":  # a new connection, as a one-shot CLI command makes
        DaemonClient.connect(sys.argv[1]).action(cid, "start")
    else:
        client.action(cid, "start")
    print(json.dumps([t0, time.perf_counter()]), flush=True)
"""


def start_latency(samples: int = 50) -> dict[str, float]:
    """API start → first instruction (median, p90), with the breakdown; the client is another process."""
    import json

    import wasmtime

    from ocre_py.daemon import Address, DaemonOptions, run

    if time.get_clock_info("perf_counter").implementation != "clock_gettime(CLOCK_MONOTONIC)":
        raise RuntimeError("needs perf_counter on CLOCK_MONOTONIC (Linux) to compare two processes' stamps")
    tmp = Path(tempfile.mkdtemp(prefix="ocre-bench-"))
    client = None
    try:
        home = tmp / "home"
        (home / "images").mkdir(parents=True)
        (home / "images" / "first.wasm").write_bytes(wasmtime.wat2wasm(FIRST_CALL_WAT))
        sock = home / "ocre.sock"
        stop, ready = threading.Event(), threading.Event()
        holder: dict[str, Any] = {}
        thread = threading.Thread(
            target=run,
            args=(home, [Address("unix", path=sock)], stop),
            kwargs={"options": DaemonOptions(), "ready": lambda d, s: (holder.update(d=d), ready.set())},
            daemon=True,
        )
        thread.start()
        if not ready.wait(30):
            raise RuntimeError("daemon did not start")
        daemon = holder["d"]
        seen = threading.Event()
        stamp: list[float] = []
        daemon.subscribe("t", lambda m: (stamp.append(time.perf_counter()), seen.set()))
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT, f"unix://{sock}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdin is not None and client.stdout is not None
        starts, calls, direct, pings, fresh = [], [], [], [], []
        for i in range(samples + 3):  # the first runs warm the module cache and the code paths
            cid = daemon.create({"image": "first.wasm", "name": f"s{i}"})["id"]
            seen.clear()
            client.stdin.write(f"kept {cid}\n")
            client.stdin.flush()
            t0, t1 = json.loads(client.stdout.readline())
            if not seen.wait(10):
                raise RuntimeError("the container never made its first call")
            if i >= 3:
                starts.append((stamp[-1] - t0) * 1000)
                calls.append((t1 - t0) * 1000)
            daemon.wait(cid, 10)
            daemon.remove(cid)
            cid = daemon.create({"image": "first.wasm", "name": f"f{i}"})["id"]
            seen.clear()
            client.stdin.write(f"fresh {cid}\n")
            client.stdin.flush()
            t0, _ = json.loads(client.stdout.readline())
            if not seen.wait(10):
                raise RuntimeError("the container never made its first call")
            if i >= 3:
                fresh.append((stamp[-1] - t0) * 1000)
            daemon.wait(cid, 10)
            daemon.remove(cid)
            # The same start without HTTP (the daemon's own path), and one bare API round trip.
            cid = daemon.create({"image": "first.wasm", "name": f"d{i}"})["id"]
            seen.clear()
            t0 = time.perf_counter()
            daemon.start(cid)
            if not seen.wait(10):
                raise RuntimeError("the container never made its first call")
            if i >= 3:
                direct.append((stamp[-1] - t0) * 1000)
            daemon.wait(cid, 10)
            daemon.remove(cid)
            client.stdin.write("ping -\n")
            client.stdin.flush()
            t0, t1 = json.loads(client.stdout.readline())
            if i >= 3:
                pings.append((t1 - t0) * 1000)
        stop.set()
        thread.join(30)
        starts.sort()
        return {
            "start_latency_ms_median": round(statistics.median(starts), 3),
            "start_latency_ms_p90": round(starts[int(len(starts) * 0.9) - 1], 3),
            "start_latency_new_connection_ms_median": round(statistics.median(fresh), 3),
            "start_call_ms_median": round(statistics.median(calls), 3),
            "start_without_http_ms_median": round(statistics.median(direct), 3),
            "api_roundtrip_ms_median": round(statistics.median(pings), 3),
            "start_samples": samples,
        }
    finally:
        if client is not None:
            client.kill()
            client.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def idle_containers(count: int = 1000, *, keep_running: bool = False) -> dict[str, float]:
    """RSS of a child daemon: idle, then with ``count`` containers sleeping in ``ocre_sleep``."""
    from ocre_py.daemon import DaemonClient
    from ocre_py.sdk import build_container

    tmp = Path(tempfile.mkdtemp(prefix="ocre-bench-"))
    proc = None
    try:
        home = tmp / "home"
        (home / "images").mkdir(parents=True)
        src = tmp / "idle.c"
        src.write_text(IDLE_C)
        build_container([src], home / "images" / "idle.wasm")
        sock = home / "ocre.sock"
        env = {**os.environ, "OCRE_HOME": str(home)}
        cmd = [
            sys.executable,
            "-c",
            "from ocre_py.cli.main import console; console()",
            "-q",
            "daemon",
            "-H",
            f"unix://{sock}",
            "--shutdown-grace",
            "1",
        ]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = DaemonClient.connect(f"unix://{sock}")
        deadline = time.monotonic() + 30
        while True:
            try:
                client.version()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("daemon did not start") from None
                time.sleep(0.05)
        time.sleep(0.5)
        idle = _rss(proc.pid)
        # One container first: it loads the runtime's lazy parts (cache, thread pools) once.
        client.create({"image": "idle.wasm", "name": "warm"}, start=True)
        time.sleep(0.3)
        one = _rss(proc.pid)
        t0 = time.perf_counter()
        for i in range(count - 1):
            client.create({"image": "idle.wasm", "name": f"idle{i}"}, start=True)
        elapsed = time.perf_counter() - t0
        time.sleep(1.0)
        states = client.info()["states"]
        full = _rss(proc.pid)
        return {
            "idle_rss_mb": round(idle / 2**20, 1),
            "rss_1_container_mb": round(one / 2**20, 1),
            f"rss_{count}_mb": round(full / 2**20, 1),
            "per_container_kb": round((full - idle) / count / 1024, 1),
            "containers_running": states.get("RUNNING", 0),
            "create_start_per_container_ms": round(elapsed / max(1, count - 1) * 1000, 2),
            "dockerd_idle_rss_mb": f"{DOCKERD_IDLE_RSS_MB[0]}–{DOCKERD_IDLE_RSS_MB[1]}",
        }
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def run(count: int = 1000, samples: int = 50) -> dict[str, Any]:
    return {**start_latency(samples), **idle_containers(count)}


if __name__ == "__main__":
    import json

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(json.dumps(run(n), indent=2))
