"""Issue 14 part 3: attached ``ocre run`` through a running daemon, light client commands, and
daemon containers pinned to content (a digest), not to a file name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ocre_py.daemon import Daemon, DaemonClient
from tests.daemon.conftest import OCRE, DaemonProcess, wait_until

#: What a client command over the Unix socket must not import: an engine, templates, west, the
#: image store and registry, an HTTP/TLS stack (http.client brings email; TLS is for tcp:// only)…
HEAVY = (
    "wasmtime",
    "jinja2",
    "west",
    "ocre_py.image.store",
    "ocre_py.image.registry",
    "ocre_py.image.distribution",
    "ocre_py.runtime.runtime",
    "http.client",
    "email",
    "ssl",
)
#: …nor what costs its start-up budget (issue 14: ``ocre ps`` in 2.5× an empty interpreter), each a
#: few ms to import: the CLI parses with ocre_py.cli.fastparse, the client speaks ocre_py.daemon.wire.
SLOW = (
    "argparse",
    "logging",
    "dataclasses",
    "typing",
    "pathlib",
    "re",
    "json",
    "socket",
    "urllib",
    "threading",
)

#: Run ``ocre ARGS`` and report which of those modules it imported (stderr, one JSON line).
PROBE = """
import sys
before = set(sys.modules)
from ocre_py.cli.main import main
code = main(sys.argv[2:])
sys.stdout.flush()
new = set(sys.modules) - before
import json
avoid = json.loads(sys.argv[1])
loaded = sorted(m for m in new if any(m == h or m.startswith(h + ".") for h in avoid))
sys.stderr.write(json.dumps({"code": code, "heavy": loaded}) + "\\n")
"""


def _probe(*argv: str | os.PathLike[str]) -> dict[str, object]:
    avoid = json.dumps([*HEAVY, *SLOW])
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, avoid, *map(str, argv)], capture_output=True, text=True, timeout=120
    )
    return json.loads(proc.stderr.strip().splitlines()[-1])


def test_attached_run_goes_through_the_daemon(daemon: Daemon, examples: dict[str, Path]) -> None:
    hello = examples["hello"]
    proc = subprocess.run(
        [*OCRE, "run", "-n", "att", "-e", "EXIT_CODE=3", hello, "world"], capture_output=True, text=True
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.startswith("Hello, world! powered by Ocre\n")
    info = DaemonClient.connect().inspect("att")  # it ran under the daemon, and stays (docker run)
    assert info["status"] == "STOPPED" and info["exit_code"] == 3
    proc = subprocess.run([*OCRE, "run", "--rm", "-n", "gone", hello], capture_output=True, text=True)
    assert proc.returncode == 0 and "powered by Ocre" in proc.stdout
    # --rm is the daemon's auto-remove (it holds even if this client dies); a container that ended
    # and was removed before the client asked still reports its exit code
    # and it is gone when `ocre run --rm` returns (the daemon's wait answers once it has removed it)
    for _ in range(5):
        proc = subprocess.run(
            [*OCRE, "run", "--rm", "-e", "EXIT_CODE=5", hello], capture_output=True, text=True
        )
        assert proc.returncode == 5, proc.stderr
        assert [c["id"] for c in DaemonClient.connect().containers()] == ["att"]
    assert daemon.removed.exit_code("gone") == 0


def test_local_and_no_daemon_run_in_process(
    daemon: Daemon, examples: dict[str, Path], monkeypatch, tmp_path: Path
) -> None:
    hello = examples["hello"]
    proc = subprocess.run([*OCRE, "run", "--local", hello], capture_output=True, text=True)
    assert proc.returncode == 0 and f"argv[0]={hello}" in proc.stdout  # the file itself: in-process
    assert DaemonClient.connect().containers() == []
    env = {**os.environ, "OCRE_HOME": str(tmp_path / "nodaemon")}
    env.pop("OCRE_HOST")
    proc = subprocess.run([*OCRE, "run", hello], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and f"argv[0]={hello}" in proc.stdout
    proc = subprocess.run([*OCRE, "run", "--local", "-d", hello], capture_output=True, text=True)
    assert proc.returncode == 2 and "--local" in proc.stderr


def test_attached_run_fails_as_a_local_run_does(daemon: Daemon, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wasm"  # no _start: a module the runtime refuses
    bad.write_bytes(b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x02\x0c\x01\x03env\x04nope\0\0")
    via = subprocess.run([*OCRE, "run", bad], capture_output=True, text=True)
    local = subprocess.run([*OCRE, "run", "--local", bad], capture_output=True, text=True)
    assert via.returncode == local.returncode != 0, (via.stderr, local.stderr)
    assert via.stderr.startswith("ocre: error: ") and "_start" in via.stderr


def test_ctrl_c_kills_the_attached_container(daemon: Daemon, misbehave: Path) -> None:
    child = subprocess.Popen(
        [*OCRE, "run", "-n", "loop", "-k", "ocre:api", misbehave, "sleeploop"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    client = DaemonClient.connect()
    wait_until(lambda: any(c["status"] == "RUNNING" for c in client.containers()), what="the container")
    child.send_signal(signal.SIGINT)
    assert child.wait(30) == 130
    assert client.inspect("loop")["status"] == "STOPPED"


def test_client_commands_import_no_engine(daemon: Daemon, examples: dict[str, Path]) -> None:
    assert _probe("ps") == {"code": 0, "heavy": []}
    assert _probe("run", "--rm", examples["hello"]) == {"code": 0, "heavy": []}
    assert _probe("rm", "-f", "nothing-here") == {"code": 1, "heavy": []}  # errors too


def test_containers_pin_the_digest_not_the_name(
    daemon_process: DaemonProcess, examples: dict[str, Path], build_test_container
) -> None:
    daemon_process.start()
    client = daemon_process.client()
    old = client.import_image("hello.wasm", examples["hello"].read_bytes())
    client.create({"image": "hello.wasm", "name": "pinned", "args": ["x"]})
    new = client.import_image("hello.wasm", build_test_container("print_args").read_bytes())
    assert new["sha256"] != old["sha256"]

    def run(cid: str) -> str:
        client.action(cid, "restart", time=0)
        client.action(cid, "wait")
        return b"".join(client.logs(cid)).decode()

    assert "powered by Ocre" in run("pinned")  # the old code, though hello.wasm changed
    assert client.inspect("pinned")["digest"] == f"sha256:{old['sha256']}"
    client.create({"image": "hello.wasm", "name": "fresh", "args": ["x"]})
    assert "powered by Ocre" not in run("fresh")  # a new container gets the new module
    assert client.inspect("fresh")["digest"] == f"sha256:{new['sha256']}"
    assert daemon_process.stop() == 0  # a new daemon re-creates both from their pinned blobs
    daemon_process.start()
    client = daemon_process.client()
    assert client.inspect("pinned")["digest"] == f"sha256:{old['sha256']}"
    assert "powered by Ocre" in run("pinned").split("powered by Ocre", 1)[1]
    client.remove("pinned")  # its blob goes with the last container pinning it
    blobs = daemon_process.home / "blobs" / "sha256"
    assert sorted(p.name for p in blobs.iterdir()) == [new["sha256"]]
