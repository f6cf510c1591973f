"""What a container is made of, validated once at create time (spec section 6).

Mount rule: ``A:B`` where ``A`` starts with ``/``, ``B`` starts with ``/`` and ``B`` is not ``/``.
With D5, host path ``A`` appears at guest path ``B``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ocre_py.errors import InvalidInput
from ocre_py.names import check_name
from ocre_py.runtime.options import (
    CAP_API,
    CAP_FILESYSTEM,
    CAP_NETWORKING,
    CAP_SHARED_HEAP,
    CAPABILITIES,
    check_capabilities,
    parse_addr_pool,
    parse_env,
)

__all__ = [
    "CAPABILITIES",
    "CAP_API",
    "CAP_FILESYSTEM",
    "CAP_NETWORKING",
    "CAP_SHARED_HEAP",
    "ContainerSpec",
    "Mount",
    "StdioTarget",
    "check_capabilities",
    "parse_addr_pool",
    "parse_env",
]

#: ``stdin``: ``None`` reads nothing (EOF), ``"inherit"`` reads the runtime's own stdin, else a file path.
#: ``stdout``/``stderr``: ``"inherit"``, ``None`` (discard), a file path, or a callable taking bytes.
StdioTarget = str | Path | Callable[[bytes], None] | None


@dataclass(frozen=True)
class Mount:
    host: Path
    guest: str

    @classmethod
    def parse(cls, text: str) -> Mount:
        host, sep, guest = text.partition(":")
        if not sep or not host.startswith("/") or not guest.startswith("/"):
            raise InvalidInput.field(
                None, "mount", text, "HOST:GUEST with absolute paths (e.g. /srv/data:/data)"
            )
        return cls(Path(host), guest)

    def __str__(self) -> str:
        return f"{self.host}:{self.guest}"


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create a container.

    ``image`` is a name in ``<workdir>/images`` (name rule applies) unless ``module_path`` points at a
    module elsewhere, in which case ``image`` is only the displayed name.
    """

    image: str
    module_path: Path | None = None
    name: str | None = None
    args: Sequence[str] = ()
    env: Sequence[str] = ()
    capabilities: Sequence[str] = ()
    mounts: Sequence[Mount] = ()
    memory_limit: int | None = None
    timeout: float | None = None
    cpu_budget: float | None = None
    detached: bool = False
    stdin: StdioTarget = None
    stdout: StdioTarget = "inherit"
    stderr: StdioTarget = "inherit"
    labels: dict[str, str] = field(default_factory=dict)
    #: ``ADDRESS/MASK`` entries a ``networking`` container may bind, connect and send to (WAMR's
    #: ``--addr-pool``); empty means any address (``0.0.0.0/0`` and ``::/0``).
    addr_pool: Sequence[str] = ()

    def validated(self) -> ContainerSpec:
        if self.module_path is None:
            check_name(self.image, what="image name")
        elif not self.image:
            raise InvalidInput.field(None, "image name", self.image, "a non-empty name")
        if self.name is not None:
            check_name(self.name, what="container ID")
        parse_env(self.env)
        check_capabilities(self.capabilities)
        if self.addr_pool:
            if CAP_NETWORKING not in self.capabilities:
                raise InvalidInput(
                    f"address pool {','.join(self.addr_pool)} given without the networking capability"
                )
            parse_addr_pool(self.addr_pool)
        for mount in self.mounts:
            if not isinstance(mount, Mount):
                raise InvalidInput.field(None, "mount", mount, "a Mount (use Mount.parse)")
            if mount.host.exists() and not mount.host.is_dir():
                raise InvalidInput.field(
                    None, "mount", str(mount), "a host directory before ':' (not a file)"
                )
            if mount.guest == "/" and CAP_FILESYSTEM in self.capabilities:
                raise InvalidInput.field(
                    None, "mount", str(mount), "a GUEST other than '/' with -k filesystem (it owns '/'; D10)"
                )
        for what, value in (("memory limit", self.memory_limit), ("timeout", self.timeout)):
            if value is not None and value <= 0:
                raise InvalidInput.field(None, what, value, "a positive value")
        return self

    def make_mount_dirs(self) -> None:
        """Create the mounts' missing host directories, as Docker does for ``-v``."""
        for mount in self.mounts:
            try:
                mount.host.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidInput.field(
                    None, "mount", str(mount), f"a host directory that can be created ({exc.strerror})"
                ) from None
