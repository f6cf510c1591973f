"""What a fleet member does to its daemon: pull, import, replace and remove deployment containers.

The member agent runs inside the daemon's process and calls :class:`~ocre_py.daemon.Daemon`
directly (no HTTP round trip, no token). A deployment's container is named after the deployment
(container IDs are names) and labelled, so the member's picture of what it runs is the daemon's
own list of containers, which survives a restart of the daemon; containers without the fleet's
labels are never touched.

Images come the way ``ocre image pull`` brings them: into ``<workdir>/store`` from the registry,
checked against the deployment's ``require_signature`` or the daemon workdir's trust policy (its
keys are the workdir's, ``ocre key import``), then imported into the daemon's image directory as
``fleet-<deployment>.wasm``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocre_py.daemon.procstat import rss_bytes
from ocre_py.daemon.requests import create_request
from ocre_py.errors import Conflict, ImageError, NotFound, OcreError
from ocre_py.fleet.protocol import MAX_LIST, Deployment
from ocre_py.fleet.reconcile import Progress
from ocre_py.units import parse_size

if TYPE_CHECKING:
    from ocre_py.daemon import Daemon
    from ocre_py.image.runnable import RunnableImage
    from ocre_py.image.store import ImageStore

log = logging.getLogger(__name__)

LABEL_DEPLOYMENT = "ocre.fleet.deployment"
LABEL_GENERATION = "ocre.fleet.generation"
LABEL_DIGEST = "ocre.fleet.digest"
LABEL_IMAGE = "ocre.fleet.image"
#: The deployment's ``bridge`` prefixes (a JSON list) when it has any: the bridge follows what each
#: container was deployed with, so an older container still running (its successor held, or its
#: image refused) keeps bridging what it did.
LABEL_BRIDGE = "ocre.fleet.bridge"


def image_name(deployment: str, aot: bool = False) -> str:
    """The deployment's module in the daemon's image directory."""
    return f"fleet-{deployment}{'.aot' if aot else '.wasm'}"


#: Seconds a container must have run before it counts as ``running`` (Kubernetes' minReadySeconds):
#: an image that crashes on start must not look done to a batched rollout for a moment.
SETTLE = 1.0


def progress_of(info: dict[str, Any], *, settle: float = SETTLE, now: float | None = None) -> Progress:
    """A deployment's progress from its container, as the daemon describes it."""
    labels = info.get("labels") or {}
    generation, digest = labels.get(LABEL_GENERATION, ""), labels.get(LABEL_DIGEST)
    status, code = info.get("status"), info.get("exit_code")
    if info.get("restarting"):  # its restart policy brings it back after a backoff
        return Progress(generation, "starting", digest, info.get("error"), code)
    if status in ("RUNNING", "PAUSED"):
        started = info.get("started_at") or 0.0
        settling = (time.time() if now is None else now) - started < settle
        return Progress(generation, "starting" if settling else "running", digest)
    if status == "CREATED":
        return Progress(generation, "starting", digest)
    if status == "ERROR":
        return Progress(generation, "failed", digest, info.get("error") or "the container failed")
    return Progress(generation, "exited", digest, info.get("error") if code else None, code)


class DaemonHost:
    """The member's hands on one daemon."""

    def __init__(self, daemon: Daemon, *, settle: float = SETTLE) -> None:
        self.daemon, self.settle = daemon, settle
        self.workdir = Path(daemon.workdir)
        self.store_root = self.workdir / "store"

    # ---- reading -----------------------------------------------------------------------------
    def containers(self) -> list[dict[str, Any]]:
        return self.daemon.containers()

    @staticmethod
    def deployment_of(info: dict[str, Any]) -> str | None:
        value = (info.get("labels") or {}).get(LABEL_DEPLOYMENT)
        return value if isinstance(value, str) else None

    @staticmethod
    def bridged(containers: list[dict[str, Any]], deployments: dict[str, Deployment]) -> set[str]:
        """The prefixes the fleet's containers here were deployed to bridge. A container made before
        :data:`LABEL_BRIDGE` has its deployment's when it runs that generation (the generation
        covers ``bridge``)."""
        out: set[str] = set()
        for info in containers:
            name = DaemonHost.deployment_of(info)
            if name is None:
                continue
            labels = info.get("labels") or {}
            raw = labels.get(LABEL_BRIDGE)
            if raw is None:
                d = deployments.get(name)
                if d is not None and d.generation == labels.get(LABEL_GENERATION):
                    out.update(d.bridge)
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if isinstance(value, list):
                out.update(p for p in value[:MAX_LIST] if isinstance(p, str))
        return out

    def current(self, containers: list[dict[str, Any]]) -> dict[str, tuple[Progress, str]]:
        """The fleet's containers on this daemon: deployment name → (progress, container ID)."""
        out: dict[str, tuple[Progress, str]] = {}
        for info in containers:
            name = self.deployment_of(info)
            if name is not None:
                out[name] = (progress_of(info, settle=self.settle), info["id"])
        return out

    def settled_at(self, containers: list[dict[str, Any]]) -> float:
        """When the next of the fleet's containers still settling counts as running (0: none):
        the member looks again then, not a poll later."""
        ends = [
            (c.get("started_at") or 0.0) + self.settle
            for c in containers
            if self.deployment_of(c) and c.get("status") == "RUNNING"
        ]
        pending = [t for t in ends if t > time.time()]
        return min(pending) if pending else 0.0

    def summary(self, containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The state message's container list: every container of the daemon, the fleet's or not."""
        return [
            {
                "id": c["id"],
                "image": (c.get("labels") or {}).get(LABEL_IMAGE) or c.get("image"),
                "status": c.get("status"),
                "digest": c.get("digest"),
                "deployment": self.deployment_of(c),
            }
            for c in containers
        ]

    def resources(self, containers: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            free = shutil.disk_usage(self.workdir).free
        except OSError:
            free = 0
        return {
            "rss_bytes": rss_bytes(),
            "cpus": os.cpu_count() or 1,
            "disk_free_bytes": free,
            "containers": len(containers),
        }

    # ---- acting ------------------------------------------------------------------------------
    def apply(
        self,
        d: Deployment,
        phase: Callable[[str, str | None], None],
        wanted: Callable[[], bool] = lambda: True,
    ) -> bool:
        """Pull the deployment's image, then replace its container with one of this generation.

        ``phase(state, digest)`` reports ``pulling`` and ``starting``. The old container keeps
        running until the new image is pulled and checked, so a bad image leaves it in place.
        ``wanted()`` is asked once the image is in: a generation the fleet replaced, removed or no
        longer selects this device for while it pulled is not started (False), and nothing of the
        deployment's changes here.
        """
        from ocre_py.image.distribution import pull
        from ocre_py.image.runnable import ResolvedImage
        from ocre_py.image.store import ImageStore

        phase("pulling", d.digest)
        self._own(d.name)  # fail before pulling when the name is taken
        store = ImageStore(self.store_root)
        # an image the pull brings and the deployment then refuses (or no longer wants) leaves again
        had = d.digest is None or any(e.digest == d.digest for e in store.entries())
        digest = pull(store, d.pull_ref).digest
        try:
            image = self._checked(d, store, digest)
        except OcreError:
            if not had:
                self._forget(store, digest)
            raise
        if not wanted():
            if not had:
                self._forget(store, digest)
            return False
        phase("starting", digest)
        args, env, caps, memory = ResolvedImage(
            image.name, image.wasm_path, dict(image.config)
        ).with_defaults(
            args=d.args,
            env=d.env,
            capabilities=d.capabilities,
            memory_limit=parse_size(d.memory, what=f"deployment '{d.name}' memory") if d.memory else None,
        )
        labels = {LABEL_DEPLOYMENT: d.name, LABEL_GENERATION: d.generation, LABEL_DIGEST: digest}
        labels[LABEL_IMAGE] = d.image
        if d.bridge:
            labels[LABEL_BRIDGE] = json.dumps(list(d.bridge))
        request = create_request(
            name=d.name,
            args=args,
            env=env,
            capabilities=caps,
            restart=d.restart,
            labels=[f"{k}={v}" for k, v in labels.items()],
        )
        name = image_name(d.name, image.aot)
        self.daemon.import_image(name, image.wasm_path.read_bytes())
        request.update(image=name, memory_limit=memory)
        if self._own(d.name) is not None:  # looked up again: the pull took a while
            self.daemon.remove(d.name, force=True)
        self.daemon.create(request, start=True)
        log.info("fleet deployment %s: generation %s runs %s", d.name, d.generation, digest)
        return True

    def remove(self, name: str) -> None:
        """Remove the deployment's container and its module (nothing when there is none)."""
        for info in self.containers():
            if self.deployment_of(info) == name:
                try:
                    self.daemon.remove(info["id"], force=True)
                except NotFound:
                    pass
                log.info("fleet deployment %s: removed container %s", name, info["id"])
        for aot in (False, True):
            try:
                self.daemon.remove_image(image_name(name, aot))
            except (NotFound, Conflict):
                pass

    def _checked(self, d: Deployment, store: ImageStore, digest: str) -> RunnableImage:
        """The pulled image, as the deployment pins it and the signature policy admits it."""
        from ocre_py.image.runnable import resolve_runnable
        from ocre_py.image.trust import TrustPolicy, effective_policy, require_signature

        if d.digest and digest != d.digest:
            raise ImageError(f"{d.pull_ref}: registry served {digest}, the deployment pins {d.digest}")
        if d.require_signature:
            policy = TrustPolicy(True, (), f"deployment '{d.name}'")
        else:
            policy = effective_policy(workdir=self.workdir)
        require_signature(store, digest, policy)
        return resolve_runnable(digest, store_root=self.store_root)

    @staticmethod
    def _forget(store: ImageStore, digest: str) -> None:
        try:
            store.remove(digest)
        except OcreError as exc:
            log.warning("fleet: cannot remove image %s from the store: %s", digest, exc.message)

    def _own(self, name: str) -> dict[str, Any] | None:
        """The deployment's container, None when there is none; a container of that name the fleet
        did not create is refused, never replaced."""
        try:
            info = self.daemon.describe(name)
        except NotFound:
            return None
        if self.deployment_of(info) != name:
            raise Conflict(
                f"container '{name}' exists and is not the fleet's; remove or rename it on this device"
            )
        return info
