"""Simulated members against a real mosquitto: the member protocol end to end, without daemons.

Convergence, a selector change, a delete, a batched rollout stopped by a failing member, and the
Will of a member whose connection drops. Waits are bounded by a generous timeout; nothing asserts
on how long anything took.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ocre_py.fleet.broker import BrokerOptions
from ocre_py.fleet.protocol import Deployment, Rollout
from ocre_py.fleet.simulate import SIMULATED_FAILURE, MemberSpec, Simulator
from tests.fleet.broker import Mosquitto
from tests.fleet.observer import Observer

FLEET = "test"


def deployment(**kw: object) -> Deployment:
    return Deployment(name="hello", image="127.0.0.1:5000/hello:1", **kw).with_generation()  # type: ignore[arg-type]


@pytest.fixture
def observer(broker: Mosquitto) -> Iterator[Observer]:
    with Observer(broker.url, FLEET) as o:
        yield o


def simulator(broker: Mosquitto, members: list[MemberSpec], **kw: float) -> Simulator:
    return Simulator(BrokerOptions(broker.url), FLEET, members, **kw)


def test_members_converge_move_and_remove(broker: Mosquitto, observer: Observer) -> None:
    members = [MemberSpec(f"d{i:02}", {"role": "a" if i % 2 else "b"}) for i in range(50)]
    a = {m.device for m in members if m.labels["role"] == "a"}
    b = {m.device for m in members if m.labels["role"] == "b"}
    with simulator(broker, members):
        assert observer.wait(lambda: len(observer.states) == 50 and all(observer.online.values()))
        assert all(s["deployments"] == {} and s["containers"] == [] for s in observer.states.values())

        first = deployment(selector={"role": "a"})
        observer.apply(first)
        assert observer.wait(lambda: set(observer.done(first)) == a)
        state = observer.states["d01"]
        assert state["labels"] == {"role": "a"} and state["protocol"] == "ocre-fleet/1"
        assert state["deployments"]["hello"] == {
            "generation": first.generation,
            "state": "running",
            "container": "hello",
        }
        assert state["containers"] == [
            {"id": "hello", "image": first.image, "status": "running", "digest": None, "deployment": "hello"}
        ]
        assert all(observer.progress(d, "hello") is None for d in b)

        moved = deployment(selector={"role": "b"})
        observer.apply(moved)
        assert observer.wait(
            lambda: set(observer.done(moved)) == b and all(observer.progress(d, "hello") is None for d in a)
        )
        assert all(observer.states[d]["containers"] == [] for d in a)

        observer.apply("hello")  # delete
        assert observer.wait(lambda: all(observer.progress(d, "hello") is None for d in a | b))


def test_batched_rollout_goes_batch_by_batch_and_stops_on_a_failure(
    broker: Mosquitto, observer: Observer
) -> None:
    members = [MemberSpec(f"d{i:02}", {"role": "r"}, fail=i == 13) for i in range(30)]
    ids = [m.device for m in members]
    batches = (ids[:10], ids[10:20], ids[20:])
    with simulator(broker, members, pull_delay=0.02):
        assert observer.wait(lambda: len(observer.online) == 30)
        plan = tuple(map(tuple, batches))
        d = deployment(selector={"role": "r"}, rollout=Rollout(batch_size=10), plan=plan)
        observer.apply(d)

        def settled() -> bool:
            states = {dev: (observer.progress(dev, "hello") or {}).get("state") for dev in ids}
            return (
                all(states[dev] == "running" for dev in batches[0] + batches[1] if dev != "d13")
                and states["d13"] == "failed"
                and all(states[dev] == "stopped" for dev in batches[2])
            )

        assert observer.wait(settled)
        assert all(observer.progress(dev, "hello")["generation"] == d.generation for dev in ids)  # type: ignore[index]
        assert observer.progress("d13", "hello")["error"] == SIMULATED_FAILURE  # type: ignore[index]
        stopped = observer.progress("d25", "hello") or {}
        assert "rollout stopped at batch 2" in stopped["reason"] and "d13" in stopped["reason"]
        # batch 1 started pulling only after every device of batch 0 ran, in the broker's order;
        # batch 2 never pulled
        events = [(dev, state) for dev, _, state in observer.events]
        first_pull = min(i for i, e in enumerate(events) if e[1] == "pulling" and e[0] in batches[1])
        last_run = max(i for i, e in enumerate(events) if e[1] == "running" and e[0] in batches[0])
        assert last_run < first_pull
        assert not any(dev in batches[2] and state in ("pulling", "running") for dev, state in events)
        # a held member publishes its state once while the batch before it advances, not again at
        # each of that batch's devices done: its progress (the reason included) stays the same
        for dev in batches[1] + batches[2]:
            assert [state for d_, state in events if d_ == dev].count("held") <= 1, dev


def test_a_dropped_member_is_marked_offline_by_its_will(broker: Mosquitto, observer: Observer) -> None:
    members = [MemberSpec(f"d{i}") for i in range(5)]
    with simulator(broker, members) as sim:
        assert observer.wait(lambda: len(observer.online) == 5 and all(observer.online.values()))
        sim.kill("d3")
        assert observer.wait(lambda: observer.online["d3"] is False)
        assert [d for d, up in sorted(observer.online.items()) if up] == ["d0", "d1", "d2", "d4"]
    # a clean stop says offline too (presence false before DISCONNECT)
    assert observer.wait(lambda: not any(observer.online.values()))


def test_members_reconnect_after_a_broker_restart(broker: Mosquitto, observer: Observer) -> None:
    members = [MemberSpec(f"d{i}", {"role": "a"}) for i in range(10)]
    with simulator(broker, members):
        first = deployment(selector={"role": "a"})
        observer.apply(first)
        assert observer.wait(lambda: len(observer.done(first)) == 10)
        broker.restart()  # the retained deployment survives in the broker's persistence
        assert observer.wait(lambda: observer.client.is_connected(), 15)
        second = deployment(selector={"role": "a"}, args=("again",))
        observer.apply(second)
        assert observer.wait(lambda: len(observer.done(second)) == 10)
