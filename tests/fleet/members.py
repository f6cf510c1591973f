"""Real fleet members for the tests: ``ocre daemon --fleet`` child processes, and images in a registry.

A :class:`MemberProcess` is a daemon with its own ``OCRE_HOME`` and Unix socket that joins the
broker as a device; several start in parallel (interpreter start-up dominates) and the tests wait
on the fleet's retained messages, read with the library's own :class:`FleetWatch`, never on time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ocre_py.daemon import DaemonClient
from ocre_py.errors import DaemonError
from ocre_py.fleet.broker import BrokerOptions
from ocre_py.fleet.observe import FleetWatch
from tests.daemon.conftest import wait_until

OCRE = [sys.executable, "-c", "from ocre_py.cli.main import console; console()"]


class MemberProcess:
    """``ocre daemon -H unix://HOME/ocre.sock --fleet URL --device-id ID --label K=V...``."""

    def __init__(
        self,
        root: Path,
        device: str,
        broker_url: str,
        labels: dict[str, str] | None = None,
        *,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.device, self.broker_url = device, broker_url
        self.labels = dict(labels or {})
        self.extra, self.extra_env = list(extra or []), dict(env or {})
        self.home = root / device
        self.host = f"unix://{self.home / 'ocre.sock'}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OCRE_HOME": str(self.home), "OCRE_HOST": self.host, **self.extra_env}

    def spawn(self) -> MemberProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        labels = [a for k, v in sorted(self.labels.items()) for a in ("--label", f"{k}={v}")]
        with open(self.home / "daemon.out", "ab") as out:
            self.proc = subprocess.Popen(
                [
                    *OCRE,
                    "daemon",
                    "-H",
                    self.host,
                    "--shutdown-grace",
                    "1",
                    *self.fleet_args(),
                    *labels,
                    *self.extra,
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def fleet_args(self) -> list[str]:
        return ["--fleet", self.broker_url, "--device-id", self.device]

    def wait_up(self, timeout: float = 30.0) -> None:
        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"daemon {self.device} exited with {self.proc.returncode}: {self.output()}"
                )
            try:
                return bool(self.client().version())
            except DaemonError:
                return False

        wait_until(up, timeout, f"daemon {self.device} to answer")

    def client(self) -> DaemonClient:
        return DaemonClient.connect(self.host)

    def containers(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.client().containers()}

    def output(self) -> str:
        path = self.home / "daemon.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def start_members(members: list[MemberProcess]) -> list[MemberProcess]:
    """Start every member at once, then wait for each daemon to answer."""
    for m in members:
        m.spawn()
    for m in members:
        m.wait_up()
    return members


@contextmanager
def watching(broker_url: str, fleet: str = "default") -> Iterator[FleetWatch]:
    with FleetWatch(BrokerOptions(broker_url), fleet) as watch:
        yield watch


def wait_fleet(
    watch: FleetWatch, predicate: Callable[[FleetWatch], Any], what: str, timeout: float = 30.0
) -> Any:
    """``predicate(watch)``, checked on every message the watch receives, until it is true."""
    result = watch.wait(lambda: predicate(watch), timeout)
    if not result:
        with watch.lock:
            seen = {
                d: (v.online, {n: p.state for n, p in v.deployments.items()})
                for d, v in watch.devices.items()
            }
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; devices: {seen}")
    return result


def progress(watch: FleetWatch, device: str, deployment: str) -> Any:
    """A device's reported progress of a deployment (call under the watch's lock), or None."""
    view = watch.devices.get(device)
    return view.deployments.get(deployment) if view else None


def push_image(
    store_root: Path,
    ref: str,
    wasm: Path,
    *,
    args: tuple[str, ...] = (),
    sign_with: str | None = None,
    key_dir: Path | None = None,
) -> str:
    """Build ``ref`` from a module (config args baked in), maybe sign it, push it; the digest."""
    from ocre_py.image.build import ImageOptions, build_from_file
    from ocre_py.image.distribution import push
    from ocre_py.image.signing import load_private_key, sign
    from ocre_py.image.store import ImageStore

    store = ImageStore(store_root)
    build_from_file(store, ref, wasm, ImageOptions(args=args))
    if sign_with:
        sign(store, ref, load_private_key(sign_with, key_dir=key_dir))
    return push(store, ref).digest
