"""``deploy`` with no board: the local Linux machine is the target (the embedded default).

With a daemon answering (``$OCRE_HOST`` or the default socket), each image is imported into it and
its container started detached, as ``docker run -d`` would: the daemon owns this machine's
containers. Without one, the image goes into the local runtime's ``images/`` and runs attached, its
exit code the command's. The Zephyr room knows nothing of runtimes or daemons, so this target lives
here and registers itself in its table (:func:`ocre_py.zephyr.deploy.register_target`) on import;
the skins import this module before they deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ocre_py.daemon.client import DaemonClient, is_reachable
from ocre_py.daemon.requests import create_request
from ocre_py.errors import InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.progress import Progress
from ocre_py.runtime import ContainerSpec, Runtime
from ocre_py.zephyr.deploy import (
    DeployRequest,
    DeployResult,
    DeployTarget,
    SourceImage,
    register_target,
    resolve_sources,
)


def local_daemon() -> DaemonClient | None:
    """The daemon at ``$OCRE_HOST`` (or the default socket) if one answers, else None."""
    client = DaemonClient.connect()
    return client if is_reachable(client) else None


class LinuxTarget(DeployTarget):
    """No board: start the containers detached under the local daemon, or run them attached."""

    name: ClassVar[str] = "linux"

    def __init__(self, find_daemon: Callable[[], DaemonClient | None] = local_daemon) -> None:
        self.find_daemon = find_daemon

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None) -> DeployResult:
        if req.name and len(req.sources) > 1:
            raise InvalidInput.field(None, "-n", req.name, "one IMAGE (a name names one container)")
        sources = resolve_sources(req.sources, require_signature=req.require_signature)
        client = None if req.dry_run else self.find_daemon()
        if client is not None:
            return self._to_daemon(client, req, sources)
        return self._run_attached(req, sources)

    @staticmethod
    def _to_daemon(client: DaemonClient, req: DeployRequest, sources: list[SourceImage]) -> DeployResult:
        result = DeployResult(target="linux-daemon", daemon=str(client.address))
        for s in sources:
            image = client.import_image(s.image_name, s.path.read_bytes())["name"]
            request = create_request(name=req.name, args=req.args, env=req.env, capabilities=req.capabilities)
            request["image"] = image
            result.containers.append(client.create(request, start=True)["id"])
            result.images.append({"name": image, "size": s.path.stat().st_size})
        return result

    @staticmethod
    def _run_attached(req: DeployRequest, sources: list[SourceImage]) -> DeployResult:
        result = DeployResult(target="linux")
        with Runtime(exclusive=False) as runtime:
            for s in sources:
                dest = runtime.images_dir / s.image_name
                if not dest.is_file() or dest.read_bytes() != s.path.read_bytes() or req.replace:
                    atomic_write(dest, s.path.read_bytes())
                result.images.append({"name": s.image_name, "size": dest.stat().st_size})
                result.files[s.image_name] = str(dest)
            if req.dry_run:
                return result
            for s in sources:
                spec = ContainerSpec(
                    image=s.image_name,
                    name=req.name,
                    args=tuple(req.args),
                    env=tuple(req.env),
                    capabilities=tuple(req.capabilities),
                ).validated()
                container = runtime.run(spec)
                result.container_id = container.id
                result.exit_code = (container.exit_code or 0) & 0xFF
                if result.exit_code:
                    break
        return result


register_target(LinuxTarget())
