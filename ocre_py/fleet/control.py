"""``ocre fleet`` as a library: apply deployments, wait for a rollout, list, remove.

Control is publishing retained messages and reading them back; nothing else keeps state. An apply
publishes each deployment whose generation (or rollout settings) changed, fixing a batched
rollout's plan from the devices online at that moment, so re-applying an identical file publishes
nothing. Every function here works on an open :class:`~ocre_py.fleet.observe.FleetWatch` and
returns data; the ``ocre fleet`` skin prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ocre_py.errors import FleetError, InvalidInput, NotFound
from ocre_py.fleet import protocol
from ocre_py.fleet.observe import FleetWatch
from ocre_py.fleet.protocol import Deployment
from ocre_py.fleet.reconcile import Progress
from ocre_py.fleet.state import DeviceView
from ocre_py.progress import Progress as ProgressCallback


@dataclass(frozen=True)
class Applied:
    """One deployment of an apply: what is now retained, and whether this apply changed it."""

    deployment: Deployment
    action: str  # "created", "updated" or "unchanged"

    def to_dict(self) -> dict[str, Any]:
        d = self.deployment
        return {
            "name": d.name,
            "action": self.action,
            "generation": d.generation,
            "image": d.image,
            "digest": d.digest,
            "plan": [list(b) for b in d.plan],
        }


def plan(d: Deployment, devices: dict[str, DeviceView]) -> tuple[tuple[str, ...], ...]:
    """The batches of a batched rollout: the online devices the selector matches, by ID, chunked.
    Devices offline now are left out; when they return they go after the last batch."""
    if not d.rollout.batch_size:
        return ()
    ids = sorted(
        v.device for v in devices.values() if v.online and v.state is not None and d.selects(v.labels)
    )
    n = d.rollout.batch_size
    return tuple(tuple(ids[i : i + n]) for i in range(0, len(ids), n))


def apply(watch: FleetWatch, deployments: list[Deployment]) -> list[Applied]:
    """Publish (retained, QoS 1) what changed; the generations must already be pinned.

    Every message is built and checked before the first is published, so a deployment that does
    not fit (a message over the bound, or more deployments than members track) publishes nothing.
    """
    out: list[Applied] = []
    messages: list[tuple[str, bytes]] = []
    with watch.lock:
        names = set(watch.deployments) | {d.name for d in deployments}
        for d in deployments:
            old = watch.deployments.get(d.name)
            if old is not None and old.generation == d.generation and old.rollout == d.rollout:
                out.append(Applied(old, "unchanged"))
                continue
            new = replace(d, plan=plan(d, watch.devices))
            try:
                payload = protocol.encode(new.to_message())
            except InvalidInput as exc:
                devices = sum(map(len, new.plan))
                planned = f" with a rollout plan of {devices} devices" if devices else ""
                raise InvalidInput(f"deployment '{d.name}'{planned}: {exc.message}") from None
            messages.append((protocol.deployment_topic(watch.fleet, d.name), payload))
            action = "updated" if old is not None or d.name in watch.invalid else "created"
            out.append(Applied(new, action))
    if len(names) > protocol.MAX_DEPLOYMENTS:
        raise InvalidInput(
            f"fleet '{watch.fleet}' would have {len(names)} deployments: members run at most "
            f"{protocol.MAX_DEPLOYMENTS}",
            hint="remove some with 'ocre fleet rm NAME' ('ocre fleet ps' lists them)",
        )
    for topic, payload in messages:
        watch.publish(topic, payload)
    return out


def targets(d: Deployment, devices: dict[str, DeviceView]) -> list[DeviceView]:
    """The online devices that report labels the deployment selects."""
    return sorted(
        (v for v in devices.values() if v.online and v.state is not None and d.selects(v.labels)),
        key=lambda v: v.device,
    )


@dataclass(frozen=True)
class RolloutStatus:
    done: int
    total: int
    waiting: tuple[str, ...]  # "device (state)" of each device not done yet
    problem: str | None  # the first failure or stop, one line

    @property
    def finished(self) -> bool:
        return self.problem is not None or self.done == self.total


def rollout_status(
    watch: FleetWatch, deployments: list[Deployment], expected: set[tuple[str, str]] | None = None
) -> RolloutStatus:
    """Where the rollouts of ``deployments`` are, from the devices' state (call under the lock).

    ``expected`` (deployment, device) collects the targets seen across calls: one that goes
    offline before it reports the generation done is still waited for, as ``device (offline)``,
    rather than dropped from the count (a device the deployment no longer selects is dropped).
    """
    done = total = 0
    waiting: list[str] = []
    for d in deployments:
        views = targets(d, watch.devices)
        if expected is not None:
            expected.update((d.name, v.device) for v in views)
            online = {v.device for v in views}
            away = (watch.devices.get(dev) for name, dev in expected if name == d.name and dev not in online)
            views += [v for v in away if v is not None and not v.online and d.selects(v.labels)]
        for view in sorted(views, key=lambda v: v.device):
            total += 1
            progress = view.deployments.get(d.name)
            current = progress is not None and progress.generation == d.generation
            if current and progress is not None and progress.failed:
                return RolloutStatus(done, total, (), _problem(d, view.device, progress, "failed"))
            if current and progress is not None and progress.state == "stopped":
                return RolloutStatus(done, total, (), _problem(d, view.device, progress, "stopped"))
            if current and progress is not None and progress.done:
                done += 1
            else:
                state = progress.state if current and progress is not None else "pending"
                waiting.append(f"{view.device} ({state if view.online else 'offline'})")
    return RolloutStatus(done, total, tuple(waiting), None)


def _problem(d: Deployment, device: str, progress: Progress, what: str) -> str:
    why = progress.error or progress.reason or f"exited with code {progress.exit_code}"
    return f"deployment '{d.name}' {what} on {device}: {why}"


def wait_rollout(
    watch: FleetWatch,
    deployments: list[Deployment],
    timeout: float,
    progress: ProgressCallback | None = None,
) -> RolloutStatus:
    """Until every online device the deployments select reports their generation done; a device
    that was a target and went offline is waited for until it is back and done.

    Raises :class:`FleetError` naming the device and its error when one fails or its rollout
    stops, and naming who it still waits for when ``timeout`` seconds pass.
    """
    last: list[RolloutStatus] = []
    expected: set[tuple[str, str]] = set()

    def check() -> bool:
        status = rollout_status(watch, deployments, expected)
        last.append(status)
        if progress is not None:
            progress(status.done, max(status.total, 1))
        return status.finished

    watch.wait(check, timeout)
    status = last[-1]
    if status.problem is not None:
        raise FleetError(status.problem)
    if not status.finished:
        raise FleetError(
            f"timed out after {timeout:g} s: {status.done} of {status.total} done; waiting for "
            + ", ".join(status.waiting[:5])
            + (f" and {len(status.waiting) - 5} more" if len(status.waiting) > 5 else "")
        )
    return status


def remove(watch: FleetWatch, names: list[str]) -> list[str]:
    """Clear the retained deployments (members remove their containers); every name must exist,
    or nothing is removed."""
    for name in names:
        protocol.check_fleet_name(name, "deployment name")
    with watch.lock:
        known = set(watch.deployments) | set(watch.invalid)
    for name in names:
        if name not in known:
            raise NotFound(
                f"no such deployment in fleet '{watch.fleet}': {name}", hint="'ocre fleet ps' lists them"
            )
    for name in dict.fromkeys(names):
        watch.publish(protocol.deployment_topic(watch.fleet, name), b"")
    return list(dict.fromkeys(names))


def ps_rows(watch: FleetWatch) -> list[dict[str, Any]]:
    """One row per device and deployment it reports, with the device's presence."""
    rows = []
    with watch.lock:
        for device in sorted(watch.devices):
            view = watch.devices[device]
            for name, p in sorted(view.deployments.items()):
                rows.append(
                    {
                        "device": device,
                        "online": view.online,
                        "deployment": name,
                        "container": view.containers_of.get(name),
                        "state": p.state,
                        "digest": p.digest,
                        "generation": p.generation,
                        "error": p.error or p.reason,
                    }
                )
    return rows


def device_rows(watch: FleetWatch) -> list[dict[str, Any]]:
    """One row per device: presence, labels, how many containers, when it was last heard of."""
    with watch.lock:
        return [
            {
                "device": device,
                "online": view.online,
                "labels": dict(view.labels),
                "containers": view.section("resources").get("containers", 0),
                "last_seen": view.last_seen,
                "health": view.section("health").get("status"),
                "version": (view.state or {}).get("version"),
            }
            for device, view in sorted(watch.devices.items())
        ]
