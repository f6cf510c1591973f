"""The runtime's view of an image: a module file on disk plus the config it should run with.

The Linux runtime and the daemon call :func:`resolve_runnable` for any ``IMAGE`` argument that is
not an existing file. Devices and the daemon keep upstream's flat ``<workdir>/images/<name>``
layout (spec section 6), which :func:`export_to_images_dir` writes from the store.
"""

from __future__ import annotations

import os

from ocre_py.errors import ImageError
from ocre_py.values import Value

TYPE_CHECKING = False  # not typing's: see below
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from ocre_py.image.store import StoredImage

#: An attached ``ocre run`` resolves its ``IMAGE`` at start-up (issue 14), so this module imports
#: what a store image needs (the store, digests, the wasm reader, :mod:`re`) only for one, and its
#: records are :class:`~ocre_py.values.Value` s, not dataclasses.
_HEX_PREFIX = r"[0-9a-f]{7,64}"


class RunnableImage(Value):
    """What a runtime needs: a flat name, the module bytes on disk, the digest and the config.

    ``config`` always has ``args``, ``env`` (``KEY=VALUE`` strings), ``capabilities`` and
    ``memory`` (``initial``/``maximum``/``limit`` in bytes where known). ``wasm_path`` is the
    content-addressed blob itself: read it, never write it.
    """

    __slots__ = ("aot", "config", "digest", "name", "refs", "signed_by", "wasm_path")

    def __init__(
        self,
        name: str,
        wasm_path: Path,
        digest: str,
        config: dict[str, Any] | None = None,
        refs: tuple[str, ...] = (),
        aot: bool = False,
        signed_by: str | None = None,
    ) -> None:
        self.name, self.wasm_path, self.digest = name, wasm_path, digest
        self.config = {} if config is None else config
        self.refs, self.aot, self.signed_by = refs, aot, signed_by


def _flat_name(image: StoredImage, ref: str) -> str:
    """``hello:1`` → ``hello.wasm``; a digest ref takes the image's first tag, else the digest."""
    import re

    from ocre_py.image import mediatypes as mt
    from ocre_py.image.digests import is_digest
    from ocre_py.image.reference import parse_reference

    source = None
    if not is_digest(ref) and not re.fullmatch(_HEX_PREFIX, ref.removeprefix("sha256:")):
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
    from ocre_py.image import mediatypes as mt
    from ocre_py.image import trust
    from ocre_py.image.digests import verify
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
    from pathlib import Path

    from ocre_py.fsutil import atomic_write

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
    from ocre_py.image.profiles import check_memory, check_module, profile
    from ocre_py.image.wasm import parse_module

    if image.aot:
        return
    module = parse_module(image.wasm_path.read_bytes(), source=image.name)
    check_module(module, profile(target, features=list(features) or None), source=image.name)
    if ram_budget is not None:
        check_memory(module, ram_budget, source=image.name)


class ResolvedImage(Value):
    """An ``IMAGE`` argument resolved: the module file, its flat name, and the image's config (empty
    for a bare module). ``digest`` is the store's for a store image. ``file`` is the module's path
    as a string; ``path`` makes it a :class:`~pathlib.Path` (imported then: the client that only
    uploads the file never needs one)."""

    __slots__ = ("config", "digest", "file", "name")

    def __init__(
        self,
        name: str,
        file: str | os.PathLike[str],
        config: dict[str, Any] | None = None,
        digest: str | None = None,
    ) -> None:
        self.name, self.file, self.digest = name, os.fspath(file), digest
        self.config = {} if config is None else config

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self.file)

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
    from ocre_py.workdir import workdir_text

    root = os.fspath(workdir) if workdir is not None else workdir_text()[0]
    in_images = os.path.join(root, "images", ref)
    local = None
    if os.path.isfile(ref):
        local = ResolvedImage(os.path.basename(ref), os.path.realpath(ref))
    elif "/" not in ref and os.path.isfile(in_images):
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
