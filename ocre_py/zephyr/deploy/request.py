"""A deploy request, its result, and the shared first steps: which images, checked, in which entries.

Both skins (``ocre zephyr deploy`` and ``west ocre deploy``) parse their options into a
:class:`DeployRequest`; everything after that is decided here and in :mod:`.pack` and
:mod:`.targets`, so the two commands cannot differ.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import DeployError, ImageError, InvalidInput
from ocre_py.image.wasm import is_aot, parse_module, scan_code
from ocre_py.zephyr.storage.autostart import AutostartEntry
from ocre_py.zephyr.storage.formats import get_format

log = logging.getLogger(__name__)

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class DeployRequest:
    """What the user asked for, already parsed (both CLI skins build one of these)."""

    sources: Sequence[str]
    name: str | None = None
    env: Sequence[str] = ()
    capabilities: Sequence[str] = ()
    args: Sequence[str] = ()
    autostart: bool = False
    replace: bool = False
    board: str | None = None
    build_dir: Path | None = None
    qemu: bool = False
    native_sim: bool = False
    output: Path | None = None
    merged: bool = False
    runner: str | None = None
    full: bool = False
    probe: str | None = None
    medium: str | None = None
    format: str = "littlefs"
    dry_run: bool = False
    require_signature: bool = False  # or the workdir's trust policy (ocre_py.image.trust)


@dataclass
class DeployResult:
    """What a deploy did; the CLI prints it and ``--json`` dumps it. ``budget`` is the storage
    format's own budget report (the tiny profile's table), when it has one."""

    target: str
    images: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    geometry: dict[str, Any] | None = None
    flash: dict[str, Any] | None = None
    container_id: str | None = None
    containers: list[str] = field(default_factory=list)  # started detached under a daemon
    daemon: str | None = None  # that daemon's address
    exit_code: int | None = None
    command: list[str] | None = None
    used_bytes: int | None = None
    budget: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceImage:
    """One container to deploy: the file name it gets in ``images/`` and its bytes' location."""

    image_name: str
    path: Path


def resolve_sources(sources: Sequence[str], *, require_signature: bool = False) -> list[SourceImage]:
    """Each ``IMAGE`` through the one resolver (:func:`ocre_py.image.runnable.resolve_image`): a file,
    a module in ``<workdir>/images``, or a store image. With ``require_signature`` (or the workdir's
    trust policy) only signed store images pass."""
    from ocre_py.image.runnable import resolve_image

    if not sources:
        raise InvalidInput.field(None, "IMAGE", "", "at least one image or .wasm file")
    out: list[SourceImage] = []
    for src in sources:
        image = resolve_image(src, require_signature=require_signature, export=False)
        name = image.name.lower() if Path(src).is_file() else image.name
        out.append(SourceImage(name, image.path))
    names = [s.image_name for s in out]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise InvalidInput.field(None, "IMAGE", ", ".join(sorted(dupes)), "each image name once")
    return out


def read_images(req: DeployRequest, sources: Sequence[SourceImage]) -> dict[str, bytes]:
    """Each source's bytes, checked before anything is packed: a wasm module (or a WAMR AOT file,
    where the format takes one) whose instructions the target's WAMR build loads (the format says
    which build: :meth:`StorageFormat.wamr`). Raises :class:`DeployError`."""
    fmt = get_format(req.format)
    build = fmt.wamr(req.build_dir)
    images = {}
    for s in sources:
        data = s.path.read_bytes()
        try:
            if not (fmt.accepts_aot and is_aot(data)):
                parse_module(data, source=str(s.path))
                build.require_loadable(scan_code(data, source=str(s.path)), source=str(s.path))
        except ImageError as exc:
            raise DeployError(exc.message, hint=exc.hint) from None
        images[s.image_name] = data
    return images


def container_name(req: DeployRequest, image_name: str) -> str:
    """``-n NAME`` (one image only), else the image name without its extension, made id-safe."""
    if req.name:
        return req.name
    stem = image_name.rsplit(".", 1)[0]
    return re.sub(r"[^a-z0-9_.-]", "-", stem.lower()).lstrip(".-_")[:31] or "container"


def parse_env(values: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for v in values:
        if not _ENV.match(v):
            raise InvalidInput.field(None, "-e", v, "KEY=VALUE")
        key, _, value = v.partition("=")
        out.append((key, value))
    return out


def autostart_entries(req: DeployRequest, images: Sequence[SourceImage]) -> list[AutostartEntry]:
    if not req.autostart:
        if req.env or req.capabilities:
            log.warning("-e/-k only take effect on a device with --autostart")
        return []
    env = tuple(parse_env(req.env))
    return [
        AutostartEntry(
            name=container_name(req, s.image_name),
            image=s.image_name,
            args=tuple(req.args),
            env=env,
            capabilities=tuple(req.capabilities),
        )
        for s in images
    ]
