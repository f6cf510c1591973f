"""Fixtures for daemon tests: a real daemon on a temp socket and temp OCRE_HOME.

``daemon`` runs the service in this process (fast: no interpreter start-up) on its own threads;
``daemon_process`` runs ``ocre daemon`` as a child process, for what needs a process boundary
(``kill -9``, signals). Both listen on ``$OCRE_HOME/ocre.sock`` and set ``$OCRE_HOST`` so the
in-process CLI (``ocre_cli``) and child ``ocre`` processes find them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ocre_py.daemon import Address, Daemon, DaemonClient, DaemonOptions, run
from ocre_py.errors import DaemonError

OCRE = [sys.executable, "-c", "from ocre_py.cli.main import console; console()"]


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def home() -> Path:
    return Path(os.environ["OCRE_HOME"])


@pytest.fixture
def daemon(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    """An in-process daemon on ``$OCRE_HOME/ocre.sock``."""
    sock = home / "ocre.sock"
    stop, ready = threading.Event(), threading.Event()
    holder: dict[str, object] = {}

    def target() -> None:
        try:
            run(
                home,
                [Address("unix", path=sock)],
                stop,
                options=DaemonOptions(shutdown_grace=1.0),
                ready=lambda d, s: (holder.update(daemon=d), ready.set()),
            )
        except BaseException as exc:  # surfaced below instead of a silent timeout
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=target, name="test-daemon", daemon=True)
    thread.start()
    assert ready.wait(20), "daemon did not start"
    if "error" in holder:
        raise holder["error"]  # type: ignore[misc]
    monkeypatch.setenv("OCRE_HOST", f"unix://{sock}")
    yield holder["daemon"]  # type: ignore[misc]
    stop.set()
    thread.join(20)
    assert not thread.is_alive(), "daemon did not shut down"


@pytest.fixture
def client(daemon: Daemon) -> DaemonClient:
    return DaemonClient.connect()


class DaemonProcess:
    """``ocre daemon`` as a child process (its output goes to ``<home>/daemon.out``)."""

    def __init__(
        self,
        home: Path,
        hosts: list[str],
        *,
        preexec: Callable[[], None] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.home, self.hosts, self.preexec, self.extra = home, hosts, preexec, extra or []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OCRE_HOME": str(self.home), "OCRE_HOST": self.hosts[0]}

    def start(self, timeout: float = 30.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        out = open(self.home / "daemon.out", "ab")  # noqa: SIM115 - kept for the child's lifetime
        args = [a for h in self.hosts for a in ("-H", h)]
        self.proc = subprocess.Popen(
            [*OCRE, "daemon", *args, "--shutdown-grace", "1", *self.extra],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=self.preexec,  # e.g. a lower open-files limit
        )
        out.close()

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}: {self.output()}")
            try:
                return bool(self.client().version())
            except DaemonError:
                return False

        wait_until(up, timeout, "the daemon to answer")

    def client(self) -> DaemonClient:
        return DaemonClient.connect(self.hosts[0])

    def info(self) -> dict[str, object]:
        return json.loads((self.home / "daemon.json").read_text())

    def output(self) -> str:
        path = self.home / "daemon.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def cli(self, *argv: str | os.PathLike[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*OCRE, *map(str, argv)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def daemon_process(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DaemonProcess]:
    """A child-process daemon; started by the test (``.start()``), always stopped afterwards."""
    host = f"unix://{home / 'ocre.sock'}"
    monkeypatch.setenv("OCRE_HOST", host)
    proc = DaemonProcess(home, [host])
    yield proc
    if proc.proc is not None:
        proc.stop()


@pytest.fixture(scope="session")
def misbehave(build_test_container: Callable[..., Path]) -> Path:
    return build_test_container("misbehave")
