"""Fleet benchmarks (issue 15): from ``apply`` to every member running, and the broker's memory
per member, against a real mosquitto on loopback.

- ``converge_1000_s_*`` (target ≤ 10 s): 1,000 simulated members (``ocre_py.fleet.simulate``, one
  process, one selector thread) selected by one deployment. From the publish of a new generation
  (retained, QoS 1, as ``ocre fleet apply`` does) to the last member's state message reporting it
  running, both stamped by an observer client subscribed to ``devices/+/+`` in this process; the
  members run in a child process, as devices are not the machine that applies. Median of
  ``rounds`` applies, each a new generation (new args).
- ``batched_*``: the same for a rollout in batches (100 members, 10 batches of 10): each batch
  waits for the previous batch's retained state, so this is ten broker round trips in a row.
- ``broker_bytes_per_member``: mosquitto's RSS with the members connected and their retained
  presence and state, minus its RSS before they connected, over their number.
- ``*_cpu_s_per_apply``: CPU time the broker, the member process and the observer spent per
  1,000-member apply: which of them the convergence time is made of.
- ``daemons_20_*``: 20 real ``ocre daemon --fleet`` processes (each its own OCRE_HOME and socket)
  and a deployment of ``examples/hello`` pushed to a loopback docker-registry: apply → all 20
  report it running or exited (0), the first apply pulling the image, the second (new args)
  finding it in each daemon's store.

The apply is ``simulate.publish_deployment``: the retained QoS 1 message ``ocre fleet apply``
publishes (``control.apply`` adds a plan only for batched rollouts, and first reads the fleet's
retained state, which is not what this measures).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ocre_py.fleet.broker import BrokerOptions
from ocre_py.fleet.protocol import Deployment, Rollout
from ocre_py.fleet.simulate import MemberSpec, Simulator, raise_nofile
from tests.fleet.broker import Mosquitto, cpu_seconds
from tests.fleet.observer import Observer

REPO = Path(__file__).resolve().parent.parent
FLEET = "bench"
TARGET_S = 10.0
IMAGE = "127.0.0.1:5000/bench:1"  # simulated members never pull it
MIB = 1024 * 1024


def _members(count: int, prefix: str) -> list[MemberSpec]:
    return [MemberSpec(f"{prefix}{i:04}", {"role": "bench"}) for i in range(count)]


def _simulate(url: str, fleet: str, count: int, prefix: str, conn: Any) -> None:
    """The member process: connect ``count`` members, say how long it took, run until told."""
    sim = Simulator(BrokerOptions(url), fleet, _members(count, prefix))
    conn.send(sim.start(timeout=600))
    conn.recv()
    sim.stop()


class _Members:
    """Simulated members in a child process (spawned: a fresh interpreter, not a fork of this one)."""

    def __init__(self, url: str, fleet: str, count: int, prefix: str = "m") -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_simulate, args=(url, fleet, count, prefix, child), daemon=True)

    def __enter__(self) -> _Members:
        self.process.start()
        try:
            if not self.conn.poll(600):
                raise RuntimeError("the simulated members did not connect within 600 s")
            self.connect_s: float = self.conn.recv()
        except BaseException:
            self.process.kill()
            raise
        return self

    def cpu_seconds(self) -> float:
        assert self.process.pid is not None
        return cpu_seconds(self.process.pid)

    def __exit__(self, *exc: object) -> None:
        try:
            self.conn.send("stop")
        finally:
            self.process.join(30)
            if self.process.is_alive():
                self.process.kill()


def _converge(observer: Observer, d: Deployment, count: int, timeout: float = 120.0) -> float:
    t0 = observer.apply(d)
    if not observer.wait(lambda: len(observer.done(d)) >= count, timeout):
        raise RuntimeError(f"{len(observer.done(d))} of {count} members ran {d.name} within {timeout:g} s")
    return max(observer.done(d).values()) - t0


def _generation(r: int, **kw: Any) -> Deployment:
    """Round ``r``'s deployment: new args, so a new generation every round."""
    return Deployment(
        name="hello", image=IMAGE, selector={"role": "bench"}, args=(f"round-{r}",), **kw
    ).with_generation()


def simulated(root: Path, members: int = 1000, rounds: int = 5) -> dict[str, Any]:
    """Convergence of ``members`` simulated members, broker memory and CPU per apply."""
    raise_nofile(members + 1024)
    broker = Mosquitto(root / "broker", nofile=members * 2 + 1024)
    version = subprocess.run([broker.exe, "-h"], capture_output=True, text=True).stdout
    with broker, Observer(broker.url, FLEET) as obs:
        time.sleep(0.5)
        rss_empty = broker.rss_bytes()
        with _Members(broker.url, FLEET, members) as sim:
            if not obs.wait(lambda: len(obs.states) >= members and len(obs.online) >= members, 60):
                raise RuntimeError(f"the observer saw {len(obs.states)} of {members} members")
            time.sleep(1.5)  # past mosquitto's 1 s autosave
            rss_members = broker.rss_bytes()
            times, cpu = [], {"broker": 0.0, "members": 0.0, "observer": 0.0}
            for r in range(rounds):
                before = (broker.cpu_seconds(), sim.cpu_seconds(), time.process_time())
                times.append(_converge(obs, _generation(r), members))
                after = (broker.cpu_seconds(), sim.cpu_seconds(), time.process_time())
                for key, b, a in zip(cpu, before, after, strict=True):
                    cpu[key] += a - b
                time.sleep(0.5)
            time.sleep(1.5)
            rss_applied = broker.rss_bytes()
            obs.apply("hello")
            obs.wait(lambda: not any(s["deployments"].get("hello") for s in obs.states.values()), 60)
    return {
        "broker": version.split("\n")[0],
        "members": members,
        "connect_s": round(sim.connect_s, 2),
        f"converge_{members}_s_median": round(statistics.median(times), 3),
        f"converge_{members}_s_rounds": [round(t, 3) for t in times],
        f"converge_{members}_target_s": TARGET_S,
        "broker_rss_empty_mb": round(rss_empty / MIB, 1),
        "broker_rss_members_mb": round(rss_members / MIB, 1),
        "broker_bytes_per_member": round((rss_members - rss_empty) / members),
        "broker_bytes_per_member_after_applies": round((rss_applied - rss_empty) / members),
        **{f"{k}_cpu_s_per_apply": round(v / rounds, 3) for k, v in cpu.items()},
    }


def batched(root: Path, members: int = 100, batch_size: int = 10, rounds: int = 3) -> dict[str, Any]:
    """A rollout in batches: each batch goes when the one before reports the generation done."""
    ids = [m.device for m in _members(members, "b")]
    plan = tuple(tuple(ids[i : i + batch_size]) for i in range(0, members, batch_size))
    rollout = Rollout(batch_size=batch_size)
    broker = Mosquitto(root / "broker-batched")
    with broker, Observer(broker.url, FLEET) as obs, _Members(broker.url, FLEET, members, prefix="b"):
        times = [_converge(obs, _generation(r, rollout=rollout, plan=plan), members) for r in range(rounds)]
    key = f"batched_{members}_in_{len(plan)}_batches"
    return {
        f"{key}_s_median": round(statistics.median(times), 3),
        f"{key}_per_batch_ms": round(statistics.median(times) / len(plan) * 1000, 1),
    }


def _ocre(*args: str) -> list[str]:
    return [sys.executable, "-m", "ocre_py", *args]


def daemons(count: int = 20) -> dict[str, Any]:
    """``count`` real daemons with the member agent."""
    from benchmarks.bench_images import loopback_registry
    from ocre_py.image import ImageStore, build_image, push
    from ocre_py.sdk import build_container

    with tempfile.TemporaryDirectory(prefix="ocre-bench-daemons-") as tmp:
        root = Path(tmp)
        hello = build_container([REPO / "examples/hello/hello.c"], root / "hello.wasm").output
        (root / "registry").mkdir()
        with loopback_registry(root / "registry") as host, Mosquitto(root / "broker") as broker:
            store = ImageStore(root / "store")
            ref = f"{host}/hello:1"
            digest = build_image(store, ref, Path(hello).read_bytes()).digest
            push(store, ref)
            procs: list[subprocess.Popen[bytes]] = []
            try:
                t0 = time.perf_counter()
                for i in range(count):
                    home = root / f"d{i}"
                    home.mkdir()
                    args = ["daemon", "-H", f"unix://{home}/ocred.sock", "--fleet", broker.url]
                    args += ["--device-id", f"d{i}", "--label", "role=bench"]
                    args += ["--fleet-name", FLEET]
                    env = {**os.environ, "OCRE_HOME": str(home)}
                    env.pop("OCRE_HOST", None)
                    with open(home / "daemon.out", "wb") as log:
                        procs.append(subprocess.Popen(_ocre(*args), env=env, stdout=log, stderr=log))
                with Observer(broker.url, FLEET) as obs:
                    if not obs.wait(lambda: sum(obs.online.values()) >= count, 120):
                        raise RuntimeError(f"{sum(obs.online.values())} of {count} daemons came online")
                    started = time.perf_counter() - t0
                    times = []
                    for r in range(2):  # the first pulls the image, the second has it
                        d = Deployment(
                            name="hello",
                            image=ref,
                            digest=digest,
                            selector={"role": "bench"},
                            args=(f"round-{r}",),
                        ).with_generation()
                        times.append(_converge(obs, d, count, timeout=300))
                    obs.apply("hello")
            finally:
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                for p in procs:
                    try:
                        p.wait(30)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
    return {
        f"daemons_{count}_start_s": round(started, 2),
        f"daemons_{count}_converge_pull_s": round(times[0], 3),
        f"daemons_{count}_converge_cached_s": round(times[1], 3),
    }


def run() -> dict[str, Any]:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ocre-bench-fleet-") as tmp:
        out = simulated(Path(tmp))
        out.update(batched(Path(tmp)))
    try:
        out.update(daemons())
    except Exception as exc:  # keep the simulated numbers; report this part as failed
        out["daemons_20"] = f"failed: {type(exc).__name__}: {exc}"
    out["load_avg_1_5_15"] = [round(x, 2) for x in load]
    out["note"] = (
        "apply = the retained deployment message ocre fleet apply publishes; converge = publish to the "
        "last member's state reporting the generation running, stamped by an observer client; "
        "simulated members in one child process, one selector thread; loopback mosquitto"
    )
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
