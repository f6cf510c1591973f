"""Checks every image passes before it enters the store, whether built, loaded or pulled.

Loading and pulling collect all bytes first, run these checks, and only then write, which is what
keeps the store unchanged when any input is bad.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ocre_py.errors import ImageError
from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import verify
from ocre_py.image.manifest import Manifest, parse_config, parse_manifest
from ocre_py.image.profiles import check_code, check_memory, check_module, profile
from ocre_py.image.wasm import parse_module


@dataclass(frozen=True)
class Checks:
    """Which target the module must suit; ``None`` target skips the import check."""

    target: str | None = "linux"
    features: tuple[str, ...] = ()
    ram_budget: int | None = None


@dataclass
class ImageBlobs:
    """An image (or signature) in memory: manifest bytes plus every blob it names, by digest."""

    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)
    signatures: list[ImageBlobs] = field(default_factory=list)


def check_image(image: ImageBlobs, checks: Checks, *, source: str) -> Manifest:
    """Verify digests and sizes, the manifest and config schemas, and the module itself."""
    manifest = parse_manifest(image.manifest, source=f"{source}: manifest")
    for desc in (manifest.config, *manifest.layers):
        data = image.blobs.get(desc.digest)
        if data is None:
            raise ImageError(f"{source}: missing blob {desc.digest}")
        verify(data, desc.digest, what=f"{source}: blob {desc.digest[:19]}")
        if len(data) != desc.size:
            raise ImageError(
                f"{source}: blob {desc.digest[:19]} has {len(data)} bytes, manifest says {desc.size}"
            )
    parse_config(image.blobs[manifest.config.digest], manifest.config.media_type, source=f"{source}: config")
    layer = image.blobs[manifest.layer.digest]
    if not mt.LAYER_TYPES[manifest.layer.media_type]:
        module = parse_module(layer, source=f"{source}: layer")
        if checks.target:
            target = profile(checks.target, features=list(checks.features) or None)
            check_module(module, target, source=source)
            check_code(layer, target, source=source)
        if checks.ram_budget is not None:
            check_memory(module, checks.ram_budget, source=source)
    for sig in image.signatures:
        sig_manifest = parse_manifest(sig.manifest, source=f"{source}: signature", image=False)
        for desc in (sig_manifest.config, *sig_manifest.layers):
            if desc.digest not in sig.blobs:
                raise ImageError(f"{source}: signature: missing blob {desc.digest}")
            verify(sig.blobs[desc.digest], desc.digest, what=f"{source}: signature blob")
    return manifest
