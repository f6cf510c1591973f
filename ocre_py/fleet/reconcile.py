"""What a member should do, decided from the retained messages alone: a pure function.

A member's agent (``member.py``), the simulated members of the benchmark and, by design, firmware
all decide the same way: the deployments that select this device's labels are desired; one that
runs an older generation is replaced, one no longer desired is removed. A batched rollout holds a
device until the batch before it in the deployment's plan has converged, reading that batch's
retained state messages — no coordinator, only the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ocre_py.fleet.protocol import Deployment

#: States of a deployment on a device that count as done for a rollout: the container runs, or it
#: ran to completion with exit code 0 (a one-shot job).
DONE = ("running", "exited")
#: States that mean "not applied yet, ask again": held by its batch, or held by a stopped rollout.
WAITING = ("held", "stopped")


@dataclass(frozen=True)
class Progress:
    """One deployment as a member reports it in its state message (``deployments.<name>``)."""

    generation: str
    state: str  # protocol.STATES
    digest: str | None = None
    error: str | None = None
    exit_code: int | None = None
    #: Why a deployment is ``held`` or ``stopped`` (not an error of this device's: the rollout's).
    reason: str | None = None

    @property
    def done(self) -> bool:
        return self.state in DONE and not self.error and self.exit_code in (None, 0)

    @property
    def failed(self) -> bool:
        return self.state == "failed" or (self.state == "exited" and self.exit_code not in (None, 0))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: object) -> Progress | None:
        if not isinstance(data, dict) or not isinstance(data.get("generation"), str):
            return None
        state = data.get("state")
        code = data.get("exit_code")
        return cls(
            data["generation"],
            state if isinstance(state, str) else "pending",
            data.get("digest") if isinstance(data.get("digest"), str) else None,
            str(data["error"])[:1024] if data.get("error") else None,
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            str(data["reason"])[:1024] if data.get("reason") else None,
        )


@dataclass(frozen=True)
class Peer:
    """What a member knows of another device: online, and its deployments' progress."""

    online: bool = False
    deployments: dict[str, Progress] = field(default_factory=dict)


@dataclass(frozen=True)
class Apply:
    """Create (or replace, when something of the deployment runs) the deployment's container."""

    deployment: Deployment


@dataclass(frozen=True)
class Remove:
    name: str


@dataclass(frozen=True)
class Hold:
    """Not this device's turn: its rollout batch waits for the one before, or the rollout stopped."""

    deployment: Deployment
    reason: str
    stopped: bool = False  # the rollout failed on an earlier batch (rather than still going)

    @property
    def progress(self) -> Progress:
        """What the member reports meanwhile: ``held`` or ``stopped``, with the reason."""
        d = self.deployment
        return Progress(d.generation, "stopped" if self.stopped else "held", d.digest, reason=self.reason)


Action = Apply | Remove | Hold


def gate(deployment: Deployment, device: str, peers: dict[str, Peer]) -> Hold | None:
    """None when ``device`` may move to the deployment's generation now, else why it waits.

    Batch 0, or a rollout without batches, goes at once. A later batch goes when every device of
    the batch before it reports the generation done, allowing ``max_unavailable`` of them failed or
    offline; more failures than that stop the rollout there.
    """
    previous = deployment.previous_batch(device)
    if not previous:
        return None
    batch = deployment.batch_of(device)
    failed: list[str] = []
    waiting: list[str] = []
    for dev in previous:
        peer = peers.get(dev, Peer())
        progress = peer.deployments.get(deployment.name)
        current = progress is not None and progress.generation == deployment.generation
        if current and progress is not None and progress.failed:
            failed.append(f"{dev} ({progress.error or f'exit code {progress.exit_code}'})")
        elif current and progress is not None and progress.state == "stopped":
            failed.append(f"{dev} (its rollout stopped too)")
        elif not peer.online:
            failed.append(f"{dev} (offline)")
        elif not (current and progress is not None and progress.done):
            waiting.append(dev)
    allowed = deployment.rollout.max_unavailable
    if len(failed) > allowed:
        return Hold(
            deployment,
            f"rollout stopped at batch {batch}: batch {batch - 1} has {len(failed)} failed or offline "
            f"(max_unavailable {allowed}): {', '.join(failed[:3])}",
            stopped=True,
        )
    if waiting:
        # No count of those not done yet: the reason goes into the member's retained state, and a
        # reason that changed with each peer's progress would republish it batch_size times per
        # batch, each copy delivered to every member of the next batch, which decides again.
        return Hold(deployment, f"waiting for batch {batch - 1} ({len(previous)} devices) to be done")
    return None


def watched(device: str, labels: dict[str, str], deployments: dict[str, Deployment]) -> set[str]:
    """The devices whose presence and state ``device`` follows: for each batched rollout that
    selects it, the batch before its own (:func:`gate` reads their state)."""
    out: set[str] = set()
    for d in deployments.values():
        if d.selects(labels):
            out.update(d.previous_batch(device))
    out.discard(device)
    return out


def decide(
    device: str,
    labels: dict[str, str],
    deployments: dict[str, Deployment],
    current: dict[str, Progress],
    peers: dict[str, Peer] | None = None,
) -> list[Action]:
    """The actions that bring ``current`` (this device's deployments, by name) to the desired state.

    A deployment already at its generation needs nothing (re-applying is idempotent); a failed one
    is not retried until its generation changes (the user re-applies), so a broken image does not
    pull in a loop.
    """
    actions: list[Action] = []
    for name in sorted(current):
        d = deployments.get(name)
        if d is None or not d.selects(labels):
            actions.append(Remove(name))
    for name in sorted(deployments):
        d = deployments[name]
        if not d.selects(labels):
            continue
        have = current.get(name)
        if have is not None and have.generation == d.generation and have.state not in WAITING:
            continue
        hold = gate(d, device, peers or {})
        actions.append(hold or Apply(d))
    return actions
