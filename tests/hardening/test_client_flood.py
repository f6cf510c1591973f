"""A flood of half-open connections against a daemon with 1,024 file descriptors (issue 13.3).

The daemon is a real ``ocre daemon`` process on a Unix socket and loopback TCP, started with
``RLIMIT_NOFILE`` 1,024 (soft and hard, as ``ulimit -n 1024`` sets it). 1,100 TCP connections each
send one request line and stop. While they are open, the Unix socket and an authenticated TCP
client must keep being served, ``ocre run -d`` must work, and a running container's log must keep
its output (no EMFILE).
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocre_py.daemon import DaemonClient, parse
from tests.daemon.conftest import DaemonProcess, wait_until
from tests.ports import free_port

FLOOD = 1100
FD_LIMIT = 1024


def _limit_open_files() -> None:  # runs in the daemon's child process before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@contextlib.contextmanager
def _own_fd_limit(needed: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the test itself needs {needed} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _still_open(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def test_half_open_flood_leaves_unix_tcp_clients_and_container_logs_working(
    tmp_path: Path, examples: dict[str, Path], record_clients: dict[str, Any]
) -> None:
    home = tmp_path / "home"
    port = free_port()
    unix, tcp = f"unix://{home / 'ocre.sock'}", f"tcp://127.0.0.1:{port}"
    proc = DaemonProcess(home, [unix, tcp], preexec=_limit_open_files)
    flood: list[socket.socket] = []
    with _own_fd_limit(FLOOD + 512):
        try:
            proc.start()
            assert proc.proc is not None
            pid = proc.proc.pid
            token = (home / "daemon.token").read_text().strip()
            local = DaemonClient(parse(unix))
            local.import_image("publisher", examples["publisher"].read_bytes())
            local.create(
                {"image": "publisher", "name": "talker", "args": ["0", "20"], "capabilities": ["ocre:api"]},
                start=True,
            )
            log_path = Path(local.inspect("talker")["log_path"])
            wait_until(lambda: log_path.exists() and log_path.stat().st_size > 0, 30, "first log line")

            for _ in range(FLOOD):  # bounded; loopback only
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                flood.append(s)
                with contextlib.suppress(OSError):  # the daemon may already have dropped it
                    s.sendall(b"GET /v1/containers HTTP/1.1\r\n")
            fds_during = _open_fds(pid)
            lines_before = log_path.read_bytes().count(b"\n")

            started = time.monotonic()
            ps = proc.cli("ps", timeout=120)
            ps_ms = (time.monotonic() - started) * 1000
            assert ps.returncode == 0 and "talker" in ps.stdout, ps.stderr

            started = time.monotonic()
            remote = DaemonClient(parse(tcp), token=token).containers()
            tcp_ms = (time.monotonic() - started) * 1000
            assert [c["id"] for c in remote] == ["talker"]

            run = proc.cli("run", "-d", "-n", "during-flood", examples["hello"], timeout=120)
            assert run.returncode == 0, run.stderr

            # The container keeps writing: new lines reach its log while the flood is held open.
            wait_until(
                lambda: log_path.read_bytes().count(b"\n") >= lines_before + 5, 60, "log output to continue"
            )
            assert local.inspect("talker")["status"] == "RUNNING"
            assert _open_fds(pid) < FD_LIMIT
            output = proc.output()
            assert "Too many open files" not in output and "EMFILE" not in output, output[-2000:]
            cut = sum(not _still_open(s) for s in flood)
            record_clients[f"{FLOOD:,} half-open TCP connections, daemon at ulimit -n {FD_LIMIT}"] = {
                "outcome": (
                    f"Unix `ocre ps` exit 0 in {ps_ms:.0f} ms; authenticated TCP call in {tcp_ms:.0f} ms; "
                    f"`ocre run -d` exit 0; container log kept growing; daemon held {fds_during} fds "
                    f"(< {FD_LIMIT}); {cut} of {FLOOD} flood connections dropped by the daemon"
                ),
            }
        finally:
            for s in flood:
                s.close()
            proc.stop()
