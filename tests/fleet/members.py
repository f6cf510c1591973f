"""Real fleet members for the tests: ``ocre daemon --fleet`` child processes, and images in a registry.

A :class:`MemberProcess` is a daemon with its own ``OCRE_HOME`` and Unix socket that joins the
broker as a device; several start in parallel (interpreter start-up dominates) and the tests wait
on the fleet's retained messages, read with the library's own :class:`FleetWatch`, never on time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.fleet.broker import DEFAULT_FLEET, BrokerOptions
from ocre_py.fleet.observe import FleetWatch
from tests.conftest import CliResult
from tests.daemon.conftest import OCRE as OCRE  # re-exported: the fleet tests run ocre with it
from tests.daemon.conftest import DaemonProcess
from tests.fleet.broker import Mosquitto
from tests.image.conftest import RegistryServer

BLINKY_ARGS = ("0", "1000")  # blink forever, once a second


class MemberProcess(DaemonProcess):
    """``ocre daemon -H unix://HOME/ocre.sock --fleet URL --device-id ID --label K=V...``: a
    :class:`DaemonProcess` that joins the fleet (``extra``: more daemon options, ``env``: more
    environment, e.g. ``$OCRE_FLEET_PASSWORD``)."""

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
        self.device, self.labels, self.extra_env = device, dict(labels or {}), dict(env or {})
        fleet = ["--fleet", broker_url, "--device-id", device]
        fleet += [a for k, v in sorted(self.labels.items()) for a in ("--label", f"{k}={v}")]
        home = root / device
        super().__init__(home, [f"unix://{home / 'ocre.sock'}"], extra=[*fleet, *(extra or [])])

    @property
    def host(self) -> str:
        return self.hosts[0]

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, **self.extra_env}

    def containers(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.client().containers()}

    def stop(self) -> int | None:  # type: ignore[override]
        return None if self.proc is None else super().stop()


def start_members(members: list[MemberProcess]) -> list[MemberProcess]:
    """Start every member at once (interpreter start-up dominates), each until its daemon answers."""
    with ThreadPoolExecutor(max_workers=len(members) or 1) as pool:
        list(pool.map(lambda m: m.start(), members))
    return members


@contextmanager
def watching(broker_url: str, fleet: str = DEFAULT_FLEET) -> Iterator[FleetWatch]:
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


@dataclass
class Fleet:
    """One test's fleet: its broker, members, images and the ``ocre fleet`` CLI pointed at it."""

    root: Path
    broker: Mosquitto
    registry: RegistryServer
    modules: dict[str, Path]
    cli: Callable[..., CliResult]
    members: dict[str, MemberProcess] = field(default_factory=dict)
    watch: FleetWatch | None = None

    def join(self, **labels: dict[str, str]) -> list[MemberProcess]:
        new = [MemberProcess(self.root / "members", d, self.broker.url, lab) for d, lab in labels.items()]
        self.members.update((m.device, m) for m in new)
        start_members(new)
        self.wait(lambda w: all(online(w, m.device) for m in new), "the members to join")
        return new

    def push(
        self, name: str, module: str, *, args: tuple[str, ...] = (), sign_with: str | None = None
    ) -> str:
        ref = f"{self.registry.host}/{name}"
        push_image(self.root / "publisher-store", ref, self.modules[module], args=args, sign_with=sign_with)
        return ref

    def fleet(self, *argv: object) -> CliResult:
        return self.cli("fleet", *argv, "--broker", self.broker.url)

    def apply(self, text: str, *flags: str) -> CliResult:
        path = self.root / "deploy.yaml"
        path.write_text(text)
        return self.fleet("apply", path, *flags)

    def ps(self) -> list[dict[str, Any]]:
        r = self.fleet("ps", "--json")
        assert r.code == 0, r.err
        return list(json.loads(r.out))

    def devices(self) -> dict[str, dict[str, Any]]:
        r = self.fleet("devices", "--json")
        assert r.code == 0, r.err
        return {row["device"]: row for row in json.loads(r.out)}

    def wait(self, predicate: Callable[[FleetWatch], Any], what: str, timeout: float = 30.0) -> Any:
        assert self.watch is not None
        return wait_fleet(self.watch, predicate, what, timeout)

    def fleet_containers(self, device: str) -> dict[str, dict[str, Any]]:
        """The device's containers the fleet manages, straight from its daemon."""
        return {
            cid: c
            for cid, c in self.members[device].containers().items()
            if "ocre.fleet.deployment" in c["labels"]
        }


def online(w: FleetWatch, device: str) -> bool:
    """The device is online and has reported its state (call under the watch's lock)."""
    view = w.devices.get(device)
    return view is not None and view.online and view.state is not None


def state_of(w: FleetWatch, device: str, deployment: str) -> str | None:
    """The state a device reports for a deployment, None when it reports none (under the lock)."""
    p = progress(w, device, deployment)
    return p.state if p else None
