"""Issue 13 (images), items 10, 12 and 14: hostile registries, full disks, concurrent deploys.

With ``OCRE_RECORD_RELIABILITY=1`` (``make reliability``) the measured numbers go to
``fuzz/results/images.json`` and ``docs/reliability.md`` ("Security and faults II"); otherwise they
are only asserted. Memory is measured in a child process (``ru_maxrss``), never timed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import digest_of
from ocre_py.image.manifest import Descriptor, canonical, manifest_bytes
from tests.hardening.conftest import recorder
from tests.image.conftest import (
    http_server,
    registry,  # noqa: F401 - the loopback docker-registry fixture
)

REPO = Path(__file__).resolve().parents[2]
GIB = 1 << 30
CHUNK = 1 << 16


@pytest.fixture(scope="module")
def record() -> Iterator[dict[str, Any]]:
    yield from recorder("images.json")


# --- item 10: a registry that sends more than it should ------------------------------------------


class _Hostile(BaseHTTPRequestHandler):
    """``/v2/huge``: a 1 GiB manifest; ``/v2/liar``: a layer declared 10 bytes, served as 1 GiB.

    Every body is written in a bounded loop that stops when the client hangs up.
    """

    config = canonical({"architecture": "wasm32", "os": "wasip1"})
    small = b"\0asm\1\0\0\0\0\0"
    manifest = manifest_bytes(
        Descriptor.for_bytes(mt.OCRE_CONFIG, config), [Descriptor.for_bytes(mt.OCRE_LAYER_WASM, small)]
    )
    sent: ClassVar[list[int]] = []

    def _stream(self, total: int, content_type: str, *, declare: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if declare:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        sent, block = 0, b" " * CHUNK
        try:
            for _ in range(total // CHUNK):
                self.wfile.write(block)
                sent += CHUNK
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.sent.append(sent)

    def do_GET(self) -> None:
        if self.path == "/v2/":
            body = b"{}"
        elif self.path.startswith("/v2/huge/manifests/"):
            return self._stream(GIB, mt.OCI_MANIFEST, declare=False)
        elif self.path.startswith("/v2/declared/manifests/"):
            return self._stream(GIB, mt.OCI_MANIFEST, declare=True)
        elif self.path.startswith("/v2/liar/manifests/"):
            body = self.manifest
        elif self.path.endswith(digest_of(self.config)):
            body = self.config
        elif "/blobs/" in self.path:
            return self._stream(GIB, "application/octet-stream", declare=False)
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


_PULL = """
import resource, sys
from ocre_py.errors import OcreError
from ocre_py.image import ImageStore, pull
outcome = "import only"
if sys.argv[1] != "-":
    try:
        pull(ImageStore(sys.argv[2]), sys.argv[1])
        outcome = "accepted"
    except OcreError as exc:
        outcome = "refused: " + exc.message
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
print(outcome)
"""


def _pull_in_child(ref: str, store: Path) -> tuple[int, str]:
    """(peak RSS in MB, outcome) of ``pull(ref)`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PULL, ref, str(store)], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert done.returncode == 0, done.stderr
    peak, outcome = done.stdout.splitlines()[:2]
    return int(peak), outcome


def test_oversize_manifest_and_blob_are_cut_off(tmp_path: Path, record: dict[str, Any]) -> None:
    baseline, _ = _pull_in_child("-", tmp_path / "s0")
    with http_server(_Hostile) as host:
        cases = {
            "1 GiB manifest, no Content-Length": (f"{host}/huge:1", "over the 4194304-byte limit"),
            "1 GiB manifest, Content-Length 1 GiB": (f"{host}/declared:1", "over the 4194304-byte limit"),
            "layer declared 10 bytes, served 1 GiB": (f"{host}/liar:1", "longer than the 10 bytes expected"),
        }
        for i, (name, (ref, expected)) in enumerate(cases.items()):
            store = tmp_path / f"s{i + 1}"
            peak, outcome = _pull_in_child(ref, store)
            assert outcome.startswith("refused: ") and expected in outcome, outcome
            assert peak < baseline + 64, (name, peak, baseline)  # was ~2100 MB and ~1070 MB
            assert not store.exists() or not [
                p for p in store.rglob("*") if p.is_file() and p.name != ".lock"
            ]
            record[f"pull: {name}"] = {
                "outcome": outcome.removeprefix("refused: ").replace(host, "HOST"),
                "peak_rss_mb": peak,
                "baseline_rss_mb": baseline,
            }
        # what the server wrote before the client hung up, socket buffers included (1 GiB offered)
        record["pull: most bytes the hostile server got out"] = {"outcome": f"{max(_Hostile.sent):,} bytes"}


# --- item 12: a full filesystem --------------------------------------------------------------------


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (a partition image and its hex fit twice); skipped, saying why, without mount."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("a small tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(directory: Path) -> None:
    """Use up every free byte of the filesystem holding ``directory`` (a bounded loop)."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for _ in range(1 << 16):
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_full_disk_is_one_line_and_leaves_store_and_partition_valid(
    tiny_fs: Path,
    registry: Any,  # noqa: F811 - the fixture imported above
    ocre_cli: Callable[..., Any],
    examples: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    record: dict[str, Any],
) -> None:
    from ocre_py.doctor import check_partition, check_store
    from ocre_py.image import ImageStore

    remote = f"{registry.host}/fullpull:1"
    assert ocre_cli("image", "build", "-t", remote, examples["blinky"]).code == 0
    assert ocre_cli("image", "push", remote).code == 0
    monkeypatch.setenv("OCRE_HOME", str(tiny_fs / "home"))
    assert ocre_cli("image", "build", "-t", "kept:1", examples["hello"]).code == 0
    out = tiny_fs / "out"
    assert ocre_cli("zephyr", "deploy", examples["hello"], "-b", "nucleo_u575zi_q", "-o", out).code == 0
    before = (out / "storage.bin").read_bytes(), (out / "storage.hex").read_bytes()
    _fill(tiny_fs)

    pulled = ocre_cli("image", "pull", remote)
    assert pulled.code == 1 and pulled.err.startswith("ocre: error: no space left on device writing "), (
        pulled.err
    )
    assert "internal error" not in pulled.err and len(pulled.err.splitlines()) == 2  # message + hint
    store = tiny_fs / "home" / "store"
    assert [f for f in check_store(store) if f.severity == "error"] == []
    assert ImageStore(store).resolve("kept:1")
    deployed = ocre_cli("zephyr", "deploy", examples["blinky"], "-b", "nucleo_u575zi_q", "-o", out)
    assert deployed.code == 1 and "no space left on device writing the partition image to " in deployed.err
    assert ((out / "storage.bin").read_bytes(), (out / "storage.hex").read_bytes()) == before
    assert check_partition(out / "storage.bin") == []
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    for name, result in (("ocre image pull", pulled), ("ocre zephyr deploy -o", deployed)):
        line = result.err.splitlines()[0].removeprefix("ocre: error: ").replace(str(tiny_fs), "TMPFS")
        record[f"full disk: {name}"] = {"outcome": re.sub(r"\.pull-\w+/[0-9a-f]{64}", ".pull-*/HEX", line)}


# --- item 14: two deploys to one output at once, and doctor on a bundle ------------------------


def test_concurrent_deploys_to_one_output_lose_nothing(
    tmp_path: Path, examples: dict[str, Path], record: dict[str, Any]
) -> None:
    from ocre_py.zephyr.board.geometry import Geometry
    from ocre_py.zephyr.deploy import list_partition
    from ocre_py.zephyr.storage import hexfile

    tries, bad = 4, 0
    for i in range(tries):
        out = tmp_path / f"out{i}"
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ocre_py",
                    "zephyr",
                    "deploy",
                    str(examples[n]),
                    "-b",
                    "nucleo_u575zi_q",
                    "-o",
                    str(out),
                ],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for n in ("hello", "blinky")
        ]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        data = (out / "storage.bin").read_bytes()
        address = min(hexfile.read_hex(out / "storage.hex"))  # erased blocks are left out of the HEX
        from_hex = hexfile.read_image(out / "storage.hex", address, len(data))
        geometry = Geometry(address=address, size=len(data), erase_block=8192, source="test")
        names = {e["name"] for e in list_partition(out / "storage.bin", geometry=geometry)}
        if from_hex != data or names != {"hello.wasm", "blinky.wasm"}:
            bad += 1
    assert bad == 0
    record["two concurrent `zephyr deploy -o` to one output"] = {
        "outcome": f"{tries} tries, {bad} with a lost update or bin/hex disagreeing (was 2 of 4)"
    }


def test_doctor_validates_a_bundle_as_a_bundle(tmp_path: Path, examples: dict[str, Path]) -> None:
    from ocre_py.doctor import check_partition
    from ocre_py.zephyr.storage.bundle import BundleWriter

    writer = BundleWriter()
    writer.add("hello", examples["hello"].read_bytes())
    path = tmp_path / "storage.bin"
    path.write_bytes(writer.build())
    assert check_partition(path) == []  # was "no LittleFS superblock ... --repair"
    broken = bytearray(path.read_bytes())
    broken[-1] ^= 0xFF
    path.write_bytes(bytes(broken))
    [finding] = check_partition(path)
    assert "an Ocre bundle: deploy again" in finding.problem and "LittleFS" not in finding.problem
