"""The runtime's view of an image: a module file on disk plus the config it should run with.

The Linux runtime and the daemon call :func:`resolve_runnable` for any ``IMAGE`` argument that is
not an existing file. Devices and the daemon keep upstream's flat ``<workdir>/images/<name>``
layout (spec section 6), which :func:`export_to_images_dir` writes from the store.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocre_py.errors import ImageError
from ocre_py.fsutil import atomic_write
from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import is_digest, verify
from ocre_py.image.profiles import check_memory, check_module, profile
from ocre_py.image.reference import parse_reference
from ocre_py.image.wasm import parse_module

if TYPE_CHECKING:
    from ocre_py.image.store import StoredImage

log = logging.getLogger(__name__)
_HEX_PREFIX = re.compile(r"^[0-9a-f]{7,64}$")


@dataclass(frozen=True)
class RunnableImage:
    """What a runtime needs: a flat name, the module bytes on disk, the digest and the config.

    ``config`` always has ``args``, ``env`` (``KEY=VALUE`` strings), ``capabilities`` and
    ``memory`` (``initial``/``maximum``/``limit`` in bytes where known). ``wasm_path`` is the
    content-addressed blob itself: read it, never write it.
    """

    name: str
    wasm_path: Path
    digest: str
    config: dict[str, Any] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    aot: bool = False
    signed_by: str | None = None


def _flat_name(image: StoredImage, ref: str) -> str:
    """``hello:1`` → ``hello.wasm``; a digest ref takes the image's first tag, else the digest."""
    source = None
    if not is_digest(ref) and not _HEX_PREFIX.fullmatch(ref.removeprefix("sha256:")):
        source = parse_reference(ref)
    if source is None and image.refs:
        source = parse_reference(image.refs[0])
    base = source.short_name if source else image.digest.split(":", 1)[1][:12]
    suffix = ".aot" if mt.LAYER_TYPES.get(image.manifest.layer.media_type, False) else ".wasm"
    return base if base.endswith((".wasm", ".aot")) else base + suffix


def resolve_runnable(
    ref: str,
    *,
    store_root: Path | None = None,
    require_signature: bool = False,
    keys: list[str] | None = None,
) -> RunnableImage:
    """Find ``ref`` (NAME[:TAG], sha256:…, or a pulled registry ref) in the store.

    Raises :class:`NotFound` when the store does not hold it, and :class:`ImageError` when the
    layer is corrupt or, when ``require_signature`` or the workdir's trust policy asks for it
    (:mod:`ocre_py.image.trust`), when no trusted key signed it.
    """
    from ocre_py.image import trust
    from ocre_py.image.store import ImageStore  # the store only when a reference needs it

    store = ImageStore(store_root)
    image = store.image(ref)
    layer = image.manifest.layer
    verify(image.layer_path.read_bytes(), layer.digest, what=f"image '{ref}' layer")
    policy = trust.effective_policy(require_signature, keys)
    signed_by = trust.require_signature(store, ref, policy)
    return RunnableImage(
        name=_flat_name(image, ref),
        wasm_path=image.layer_path,
        digest=image.digest,
        config=image.config,
        refs=image.refs,
        aot=mt.LAYER_TYPES.get(layer.media_type, False),
        signed_by=signed_by,
    )


def export_to_images_dir(
    ref: str,
    workdir: str | os.PathLike[str],
    *,
    store_root: Path | None = None,
    name: str | None = None,
    require_signature: bool = False,
) -> Path:
    """Write the image's module to ``<workdir>/images/<name>`` atomically and return that path."""
    image = resolve_runnable(ref, store_root=store_root, require_signature=require_signature)
    return export_runnable(image, workdir, name=name)


def export_runnable(
    image: RunnableImage, workdir: str | os.PathLike[str], *, name: str | None = None
) -> Path:
    """:func:`export_to_images_dir` for an image already resolved (and verified): no second lookup."""
    target = Path(workdir) / "images" / (name or image.name)
    if target.parent.name != "images" or "/" in (name or ""):
        raise ImageError(f"export name '{name}' must be a plain file name")
    atomic_write(target, image.wasm_path.read_bytes())
    return target


def check_for_target(
    image: RunnableImage,
    target: str,
    *,
    features: tuple[str, ...] | list[str] = (),
    ram_budget: int | None = None,
) -> None:
    """Refuse ``image`` for a deploy target: imports the firmware cannot serve, or memory over budget.

    A deploy calls this with the board's enabled Ocre features and RAM budget before writing
    anything to the device. AOT layers are not parsed; their architecture is compared instead.
    """
    if image.aot:
        return
    module = parse_module(image.wasm_path.read_bytes(), source=image.name)
    check_module(module, profile(target, features=list(features) or None), source=image.name)
    if ram_budget is not None:
        check_memory(module, ram_budget, source=image.name)


@dataclass(frozen=True)
class ResolvedImage:
    """An ``IMAGE`` argument resolved: the module file, its flat name, and the image's config (empty
    for a bare module). ``digest`` is the store's for a store image."""

    name: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None

    def with_defaults(
        self,
        *,
        args: tuple[str, ...] | list[str] = (),
        env: tuple[str, ...] | list[str] = (),
        capabilities: tuple[str, ...] | list[str] = (),
        memory_limit: int | None = None,
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int | None]:
        """The options a container runs with: the user's, over the image's own. Its args when none
        are given, its env with given entries replacing the same keys, its capabilities plus the
        given ones, its memory limit unless one is given: what ``ocre run IMAGE`` and
        ``ocre run -d IMAGE`` both apply."""
        config = self.config
        merged: dict[str, str] = {}
        for entry in (*config.get("env", ()), *env):  # a given KEY replaces the image's (Docker's -e)
            key = entry.partition("=")[0]
            merged.pop(key, None)
            merged[key] = entry
        return (
            tuple(args) or tuple(config.get("args", ())),
            tuple(merged.values()),
            tuple(dict.fromkeys((*config.get("capabilities", ()), *capabilities))),
            memory_limit if memory_limit is not None else config.get("memory", {}).get("limit"),
        )


def resolve_image(
    ref: str,
    *,
    require_signature: bool = False,
    workdir: str | os.PathLike[str] | None = None,
    export: bool = True,
) -> ResolvedImage:
    """``IMAGE`` → a module file, the one lookup every command uses, in this order: an existing file,
    ``<workdir>/images/<ref>`` (as on the device), then the image store (``NAME[:TAG]``,
    ``sha256:…``, a pulled registry reference). A store image is exported to
    ``<workdir>/images/<name>`` (so argv[0] is the image path) unless ``export`` is false.

    ``require_signature`` or the workdir's trust policy refuses bare modules and unsigned images.
    """
    from ocre_py.errors import InvalidInput, NotFound
    from ocre_py.image.trust import effective_policy, refuse_unsigned_file
    from ocre_py.workdir import default_workdir

    root = Path(workdir) if workdir is not None else default_workdir()[0]
    path, in_images = Path(ref), root / "images" / ref
    local = None
    if path.is_file():
        local = ResolvedImage(path.name, path.resolve())
    elif "/" not in ref and in_images.is_file():
        local = ResolvedImage(ref, in_images)
    if local is not None:
        refuse_unsigned_file(ref, effective_policy(require_signature))  # a bare module carries none
        return local
    if ref.endswith((".wasm", ".aot")):
        raise InvalidInput.field(None, "IMAGE", ref, "an existing .wasm file or an image reference")
    try:
        image = resolve_runnable(ref, require_signature=require_signature)
    except NotFound:
        raise InvalidInput.field(
            None, "image", ref, "an existing .wasm file, a file in <workdir>/images, or an image in the store"
        ) from None
    module = export_runnable(image, root) if export else image.wasm_path
    return ResolvedImage(image.name, module, dict(image.config), image.digest)
