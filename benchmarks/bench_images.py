"""Image benchmarks: push/pull throughput of a 1 MiB image to a loopback docker-registry, and the
time per image of importing 100 images into the store (built from modules, and loaded from a tar).

``run()`` starts Debian's ``docker-registry`` on a free loopback port in a temp dir, measures, stops
it, and returns the numbers; the benchmark runner formats them.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ocre_py.image.wasm import encode_uleb
from tests.ports import free_port

MIB = 1024 * 1024


def padded_module(size: int, seed: int = 0) -> bytes:
    """A valid (empty) wasm module grown to ``size`` bytes with a custom section of random bytes."""
    name = b"pad"
    body_len = size - 8 - 1 - 5 - 1 - len(name)
    payload = os.urandom(max(body_len, 0)) if seed == 0 else seed.to_bytes(4, "big") * (max(body_len, 0) // 4)
    body = encode_uleb(len(name)) + name + payload
    return b"\0asm\x01\0\0\0" + b"\0" + encode_uleb(len(body)) + body


@contextmanager
def loopback_registry(work: Path) -> Iterator[str]:
    exe = shutil.which("docker-registry")
    if not exe:
        raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
    port = free_port()
    (work / "data").mkdir()
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {work / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: bench}}\n"
    )
    proc = subprocess.Popen([exe, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("docker-registry did not start") from None
                time.sleep(0.05)
        yield host
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(*, rounds: int = 5, images: int = 100) -> dict[str, float]:
    """Measure and return the numbers (MiB/s, ms per image); medians over ``rounds``."""
    from ocre_py.image import ImageStore, build_image, load, pull, push, save

    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ocre-bench-images-") as tmp:
        work = Path(tmp)
        module = padded_module(MIB)
        with loopback_registry(work) as host:
            push_times, pull_times = [], []
            for i in range(rounds):
                store = ImageStore(work / f"push{i}")
                ref = f"{host}/bench{i}:1"
                build_image(store, ref, module)
                t0 = time.perf_counter()
                push(store, ref)
                push_times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                pull(ImageStore(work / f"pull{i}"), ref)
                pull_times.append(time.perf_counter() - t0)
        size_mib = len(module) / MIB
        results["push_1mib_mib_per_s"] = round(size_mib / statistics.median(push_times), 1)
        results["pull_1mib_mib_per_s"] = round(size_mib / statistics.median(pull_times), 1)
        results["push_1mib_ms"] = round(statistics.median(push_times) * 1000, 1)
        results["pull_1mib_ms"] = round(statistics.median(pull_times) * 1000, 1)

        source = ImageStore(work / "many")
        modules = [padded_module(4096, seed=i + 1) for i in range(images)]
        t0 = time.perf_counter()
        for i, data in enumerate(modules):
            build_image(source, f"img{i}:1", data)
        results["import_module_ms_per_image"] = round((time.perf_counter() - t0) * 1000 / images, 2)
        tar = work / "many.tar"
        save(source, [f"img{i}:1" for i in range(images)], tar)
        t0 = time.perf_counter()
        load(ImageStore(work / "loaded"), tar)
        results["load_tar_ms_per_image"] = round((time.perf_counter() - t0) * 1000 / images, 2)
        results["images"] = float(images)
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
