"""A real mosquitto broker on loopback for the fleet tests and benchmarks.

Each broker gets its own config file, port and persistence directory, so a restart restores the
retained messages (what members rely on after a broker restart) and nothing touches a system
broker. Connections are unlimited (``max_connections -1``); each takes a file descriptor, so the
1,000-member benchmark passes ``nofile`` to raise the broker's open-file limit (``ulimit -n``).
"""

from __future__ import annotations

import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ocre_py.fleet.protocol import MAX_PACKET
from tests.ports import free_port


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Mosquitto:
    """``with Mosquitto(tmp) as broker: broker.url`` → ``mqtt://127.0.0.1:PORT``."""

    def __init__(
        self, root: Path, *, port: int | None = None, extra: str = "", nofile: int | None = None
    ) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).is_file():
            raise RuntimeError(
                "mosquitto is not installed: run 'make setup' (it installs the Debian package)"
            )
        self.exe = exe
        self.root = root
        self.port = port or free_port()
        self.extra = extra
        self.nofile = nofile
        self.process: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        self.conf = root / "mosquitto.conf"
        self.log = root / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # as root mosquitto drops to user 'mosquitto', which cannot write this persistence dir
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {data}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            "max_connections -1\n"
            f"max_packet_size {MAX_PACKET}\n"  # as docs/fleet.md configures a broker
            f"{self.extra}"
        )
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.exe, "-c", str(self.conf)], stdout=log, stderr=log, preexec_fn=self._limits
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start: {self.log.read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 10 s")

    def _limits(self) -> None:
        """In the child, before exec: the open-file limit the caller asked for (up to the hard one)."""
        if self.nofile:
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            want = self.nofile if hard == resource.RLIM_INFINITY else min(self.nofile, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))

    def stop(self) -> None:
        """A clean stop: mosquitto writes its persistence file (retained messages) on SIGTERM."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def rss_bytes(self) -> int:
        """The broker's resident memory (for the per-member figure in the benchmark)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def cpu_seconds(self) -> float:
        """The broker's user + system CPU time so far (what an apply cost the broker)."""
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
