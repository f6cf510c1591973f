"""The member's worker against changes that arrive while it acts: a deployment removed or replaced
while its image is pulled, and peers it follows again after a reconnection. The worker runs its real
steps and takes messages through its real handler; a stand-in plays the daemon (and, for the pull
itself, a real daemon and registry do)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocre_py.daemon import Daemon, DaemonOptions
from ocre_py.fleet import protocol
from ocre_py.fleet.broker import DEFAULT_FLEET, BrokerOptions
from ocre_py.fleet.daemon_host import DaemonHost
from ocre_py.fleet.member import Member, MemberConfig
from ocre_py.fleet.protocol import Deployment
from ocre_py.fleet.state import DeviceView
from ocre_py.image.store import ImageStore
from tests.fleet.members import push_image
from tests.image.conftest import RegistryServer

F = DEFAULT_FLEET


class Client:
    """What the worker asks of its paho client: subscriptions, and it is not connected (so it
    publishes nothing)."""

    def __init__(self) -> None:
        self.subscribed: list[Any] = []

    def subscribe(self, topics: Any, qos: int = 0) -> None:
        self.subscribed.append(topics)

    def unsubscribe(self, topics: Any) -> None:
        pass

    def is_connected(self) -> bool:
        return False


class Host:
    """A daemon with no containers whose pull runs ``during_pull`` (the broker's news meanwhile)."""

    def __init__(self) -> None:
        self.during_pull: Callable[[], None] = lambda: None
        self.started: list[str] = []

    def containers(self) -> list[dict[str, Any]]:
        return []

    def current(self, containers: list[dict[str, Any]]) -> dict[str, Any]:
        return {}

    def settled_at(self, containers: list[dict[str, Any]]) -> float:
        return 0.0

    def apply(
        self, d: Deployment, phase: Callable[[str, str | None], None], wanted: Callable[[], bool]
    ) -> bool:
        phase("pulling", d.digest)
        self.during_pull()
        if not wanted():
            return False
        self.started.append(d.generation)
        return True


def deployment(name: str = "app", **kw: Any) -> Deployment:
    return Deployment(name, "127.0.0.1:5000/app:1", **kw).with_generation()


def member(host: Host, *deployments: Deployment) -> tuple[Member, Client]:
    m = Member(MemberConfig(BrokerOptions("mqtt://127.0.0.1:1"), "d1", {"role": "s"}))
    client = Client()
    m._host, m._client = host, client  # type: ignore[assignment]
    m._synced = True
    for d in deployments:
        send(m, client, d)
    return m, client


def send(m: Member, client: Client, d: Deployment | str) -> None:
    """A deployment message as the broker delivers it (a name alone: deleted)."""
    name = d if isinstance(d, str) else d.name
    payload = b"" if isinstance(d, str) else protocol.encode(d.to_message())
    m._take(client, protocol.deployment_topic(F, name), payload)  # type: ignore[arg-type]


def test_a_deployment_removed_while_pulling_is_not_started() -> None:
    host = Host()
    m, client = member(host, deployment())
    host.during_pull = lambda: send(m, client, "app")
    m._step()
    assert host.started == []
    assert m._records == {}  # nothing failed, nothing held: it is simply gone
    m._step()
    assert host.started == []


def test_a_generation_replaced_while_pulling_gives_way_to_the_new_one() -> None:
    host = Host()
    first, second = deployment(), deployment(args=("2",))
    m, client = member(host, first)
    host.during_pull = lambda: send(m, client, second)
    m._step()
    assert host.started == []
    host.during_pull = lambda: None
    m._step()
    assert host.started == [second.generation]


def test_a_deployment_that_stops_selecting_the_device_while_pulling_is_not_started() -> None:
    host = Host()
    d = deployment(selector={"role": "s"})
    m, client = member(host, d)
    host.during_pull = lambda: send(m, client, deployment(selector={"role": "other"}))
    m._step()
    assert host.started == []


def test_peers_followed_again_are_not_judged_on_what_was_known_before() -> None:
    """After a reconnection the member subscribes to its peers again; until their retained
    messages come back, a peer that looked offline before counts as not heard from: its batch
    waits, the rollout does not stop on a stale picture."""
    host = Host()
    d = deployment(rollout=protocol.Rollout(batch_size=1), plan=(("d0",), ("d1",)))
    m, client = member(host)
    m._peers["d0"] = DeviceView("d0")
    m._peers["d0"].on_presence(protocol.presence(False))  # what it knew before the connection dropped
    send(m, client, d)
    m._step()
    assert client.subscribed == [[(t, 1) for t in protocol.device_topics(F, "d0")]]
    progress = m._records["app"]
    assert progress.state == "held" and progress.reason is not None
    assert progress.reason.startswith("waiting for batch 0")
    assert host.started == []


def test_the_daemon_host_changes_nothing_for_a_generation_no_longer_wanted(
    tmp_path: Path, fleet_registry: RegistryServer, modules: dict[str, Path]
) -> None:
    ref = f"{fleet_registry.host}/races-hello:1"
    digest = push_image(tmp_path / "publisher", ref, modules["hello"])
    daemon = Daemon(tmp_path / "d1", options=DaemonOptions(shutdown_grace=1.0))
    try:
        host = DaemonHost(daemon)
        d = Deployment("hello", ref, digest=digest).with_generation()
        phases: list[str] = []
        assert host.apply(d, lambda state, _digest: phases.append(state), lambda: False) is False
        assert phases == ["pulling"]
        assert daemon.containers() == [] and list(daemon.images_dir.iterdir()) == []
        assert ImageStore(host.store_root).images() == []  # what it pulled for nothing is gone
        assert host.apply(d, lambda state, _digest: phases.append(state)) is True
        assert phases == ["pulling", "pulling", "starting"]
        assert [c["id"] for c in daemon.containers()] == ["hello"]
        assert [i.digest for i in ImageStore(host.store_root).images()] == [digest]
    finally:
        daemon.close()
