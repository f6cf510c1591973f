"""The image manifest and config: building them, and checking what we read from disk or a registry.

An Ocre image is an OCI image manifest (schemaVersion 2) with one config blob and one Wasm layer.
Everything read back is validated field by field, so a broken manifest fails with the field, the
value and what was expected rather than with a KeyError deep inside a pull.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ocre_py.errors import ImageError
from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import digest_of, is_digest


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def for_bytes(cls, media_type: str, data: bytes, **annotations: str) -> Descriptor:
        return cls(media_type, digest_of(data), len(data), dict(annotations))


@dataclass(frozen=True)
class Manifest:
    """A parsed, validated image (or signature) manifest."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def layer(self) -> Descriptor:
        return self.layers[0]


def canonical(obj: Any) -> bytes:
    """Stable JSON bytes (sorted keys, no spaces): the same input always gives the same digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def manifest_bytes(
    config: Descriptor,
    layers: list[Descriptor],
    *,
    subject: Descriptor | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [d.to_json() for d in layers],
    }
    if subject is not None:
        doc["subject"] = subject.to_json()
    if artifact_type:
        doc["artifactType"] = artifact_type
    if annotations:
        doc["annotations"] = annotations
    return canonical(doc)


def _fail(source: str, where: str, value: object, expected: str) -> ImageError:
    shown = f"'{value}'" if isinstance(value, str) and value.isprintable() else repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ImageError(f"{source}: {where} {shown}: expected {expected}")


def _descriptor(obj: object, source: str, where: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise _fail(source, where, obj, "an object with mediaType, digest and size")
    media_type, digest, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _fail(source, f"{where}.mediaType", media_type, "a media type string")
    if not isinstance(digest, str) or not is_digest(digest):
        raise _fail(source, f"{where}.digest", digest, "sha256:<64 hex digits>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _fail(source, f"{where}.size", size, "a non-negative integer")
    annotations = obj.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise _fail(source, f"{where}.annotations", annotations, "an object of strings")
    return Descriptor(media_type, digest, size, {str(k): str(v) for k, v in annotations.items()})


def load_json(data: bytes, source: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail(source, "document", type(doc).__name__, "a JSON object")
    return doc


def parse_manifest(data: bytes, *, source: str = "manifest", image: bool = True) -> Manifest:
    """Validate an OCI manifest; with ``image`` it must also be a runnable Ocre/CNCF Wasm image."""
    doc = load_json(data, source)
    if doc.get("schemaVersion") != 2:
        raise _fail(source, "schemaVersion", doc.get("schemaVersion"), "2")
    media_type = doc.get("mediaType", mt.OCI_MANIFEST)
    if media_type != mt.OCI_MANIFEST:
        raise _fail(source, "mediaType", media_type, mt.OCI_MANIFEST)
    config = _descriptor(doc.get("config"), source, "config")
    raw_layers = doc.get("layers")
    if not isinstance(raw_layers, list):
        raise _fail(source, "layers", raw_layers, "a list of descriptors")
    layers = tuple(_descriptor(d, source, f"layers[{i}]") for i, d in enumerate(raw_layers))
    subject = _descriptor(doc["subject"], source, "subject") if "subject" in doc else None
    manifest = Manifest(config, layers, subject, doc.get("artifactType"), dict(doc.get("annotations") or {}))
    if image:
        if config.media_type not in mt.CONFIG_TYPES:
            raise _fail(source, "config.mediaType", config.media_type, " or ".join(mt.CONFIG_TYPES))
        if len(layers) != 1:
            raise _fail(source, "layers", len(layers), "exactly one Wasm layer")
        if layers[0].media_type not in mt.LAYER_TYPES:
            raise _fail(source, "layers[0].mediaType", layers[0].media_type, " or ".join(mt.LAYER_TYPES))
    return manifest


# --- the config blob -------------------------------------------------------------------------------

_CONFIG_FIELDS: dict[str, tuple[type, ...]] = {
    "architecture": (str,),
    "os": (str,),
    "args": (list,),
    "env": (list,),
    "capabilities": (list,),
    "memory": (dict,),
    "profile": (dict,),
    "labels": (dict,),
    "name": (str,),
    "version": (str,),
}


def parse_config(data: bytes, media_type: str, *, source: str = "config") -> dict[str, Any]:
    """Validate a config blob and return it in Ocre's shape (CNCF configs are mapped onto it)."""
    doc = load_json(data, source)
    if not mt.CONFIG_TYPES.get(media_type, False):
        # CNCF Wasm config: only architecture/os/layerDigests are defined; keep what maps.
        return normalise_config(
            {"architecture": doc.get("architecture", "wasm32"), "os": doc.get("os", "wasip1")}
        )
    for key, types in _CONFIG_FIELDS.items():
        if key in doc and not isinstance(doc[key], types):
            raise _fail(source, key, doc[key], f"a {types[0].__name__}")
    for key in ("args", "env", "capabilities"):
        for i, item in enumerate(doc.get(key, [])):
            if not isinstance(item, str):
                raise _fail(source, f"{key}[{i}]", item, "a string")
    for i, item in enumerate(doc.get("env", [])):
        if "=" not in item:
            raise _fail(source, f"env[{i}]", item, "KEY=VALUE")
    return normalise_config(doc)


def normalise_config(doc: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults so every reader sees every key."""
    out: dict[str, Any] = {
        "architecture": "wasm32",
        "os": "wasip1",
        "args": [],
        "env": [],
        "capabilities": [],
        "memory": {},
        "profile": {"features": [], "imports": []},
        "labels": {},
    }
    out.update(doc)
    return out
