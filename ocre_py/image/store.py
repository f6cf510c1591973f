"""The local image store: an OCI image-layout directory, content addressed and written atomically.

Layout (OCI image-layout 1.0): ``oci-layout``, ``index.json`` and ``blobs/sha256/<hex>``. Tags live
in ``index.json`` as ``org.opencontainers.image.ref.name`` annotations holding the full reference
(``hello:1``, ``localhost:5000/hello:1``). Signatures are manifests of their own, recorded in the
index with a subject annotation, so ``save`` carries them and ``push`` sends them as cosign's ``.sig`` tag.

Every blob is written to a temp file and renamed into place only after its digest checked out, and
``index.json`` is replaced atomically under a lock, so a crash or a bad input never leaves a torn
store: the index only ever names blobs that are complete.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import Conflict, ImageError, InvalidInput, NotFound
from ocre_py.fsutil import atomic_write, file_lock
from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import digest_of, is_digest
from ocre_py.image.manifest import Manifest, canonical, parse_config, parse_manifest
from ocre_py.image.reference import parse_reference
from ocre_py.workdir import default_workdir

log = logging.getLogger(__name__)

REF_NAME = "org.opencontainers.image.ref.name"
SIGNATURE_OF = "vnd.ocre.signature.subject"
CREATED = "org.opencontainers.image.created"
_LAYOUT = {"imageLayoutVersion": "1.0.0"}


def default_store_root() -> Path:
    return default_workdir()[0] / "store"


@dataclass(frozen=True)
class IndexEntry:
    """One line of ``index.json``: a manifest and either a tag or the image it signs."""

    digest: str
    size: int
    ref: str | None = None
    signature_of: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        ann = dict(self.annotations)
        if self.ref:
            ann[REF_NAME] = self.ref
        if self.signature_of:
            ann[SIGNATURE_OF] = self.signature_of
        return {"mediaType": mt.OCI_MANIFEST, "digest": self.digest, "size": self.size, "annotations": ann}


@dataclass(frozen=True)
class StoredImage:
    """An image in the store: its manifest digest, tags, parsed manifest and config."""

    digest: str
    refs: tuple[str, ...]
    manifest: Manifest
    config: dict[str, Any]
    layer_path: Path

    @property
    def size(self) -> int:
        return self.manifest.config.size + sum(layer.size for layer in self.manifest.layers)


class ImageStore:
    """A content-addressed OCI image-layout directory."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_root()
        self._lock_depth = 0

    # --- blobs --------------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise InvalidInput.field(None, "digest", digest, "sha256:<64 hex digits>")
        return self.root / "blobs" / "sha256" / digest.split(":", 1)[1]

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def put_blob(self, data: bytes, expected: str | None = None) -> str:
        """Store ``data``; with ``expected`` refuse it when the digest differs (nothing is written)."""
        digest = digest_of(data)
        if expected is not None and digest != expected:
            raise ImageError(f"blob digest mismatch: expected {expected}, got {digest}")
        path = self.blob_path(digest)
        if not path.is_file():
            self._ensure_layout()
            atomic_write(path, data, what=f"blob {digest[:19]} of the image store")
        return digest

    def read_blob(self, digest: str, *, verify: bool = True) -> bytes:
        path = self.blob_path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageError(
                f"store {self.root}: missing blob {digest}", hint="run 'ocre image pull' again"
            ) from None
        if verify and digest_of(data) != digest:
            raise ImageError(f"store {self.root}: blob {digest} is corrupt (digest mismatch)")
        return data

    # --- the index ----------------------------------------------------------------------------------

    def _ensure_layout(self) -> None:
        if not (self.root / "oci-layout").is_file():
            atomic_write(self.root / "oci-layout", json.dumps(_LAYOUT))
        if not (self.root / "index.json").is_file():
            self._write_index([])

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise store changes between processes (re-entrant within this object).

        Writers hold it from their first blob to their index entry, and garbage collection holds
        it too, so a collection never deletes a blob another writer has stored but not yet indexed.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        with file_lock(self.root / ".lock"):
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0

    def entries(self) -> list[IndexEntry]:
        path = self.root / "index.json"
        if not path.is_file():
            return []
        try:
            doc = json.loads(path.read_bytes())
            manifests = doc["manifests"]
        except (ValueError, KeyError, TypeError):
            raise ImageError(
                f"{path}: not a valid OCI index", hint="restore it or remove the store"
            ) from None
        out = []
        for m in manifests:
            ann = dict(m.get("annotations") or {})
            ref, sig = ann.pop(REF_NAME, None), ann.pop(SIGNATURE_OF, None)
            out.append(IndexEntry(m["digest"], m["size"], ref, sig, ann))
        return out

    def _write_index(self, entries: list[IndexEntry]) -> None:
        doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [e.to_json() for e in entries]}
        atomic_write(
            self.root / "index.json",
            json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n",
            what="the image store's index",
        )

    def add_manifest(
        self, manifest: bytes, *, ref: str | None = None, signature_of: str | None = None
    ) -> str:
        """Record a manifest whose blobs are already stored; a tag moves to the new digest."""
        with self.locked():
            self.put_blob(manifest)
            return self.record([(manifest, ref, signature_of)])[0]

    def record(self, manifests: list[tuple[bytes, str | None, str | None]]) -> list[str]:
        """Add index entries for stored manifests: (bytes, tag or None, signed digest or None).

        Each manifest and every blob it names must already be in the store; the index is written
        once, so many images cost one rewrite.
        """
        with self.locked():
            entries = self.entries()
            digests = []
            for manifest, ref, signature_of in manifests:
                digest = digest_of(manifest)
                parsed = parse_manifest(manifest, source=f"manifest {digest}", image=signature_of is None)
                for d in (parsed.config, *parsed.layers):
                    if not self.has_blob(d.digest):
                        raise ImageError(f"manifest {digest}: missing blob {d.digest}")
                if not self.has_blob(digest):
                    raise ImageError(f"manifest {digest} is not stored")
                if ref is not None:
                    entries = [e for e in entries if e.ref != ref]
                    entries.append(IndexEntry(digest, len(manifest), ref=ref))
                elif not any(e.digest == digest for e in entries):
                    entries.append(IndexEntry(digest, len(manifest), signature_of=signature_of))
                digests.append(digest)
            self._write_index(entries)
        return digests

    # --- lookups ------------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """Manifest digest for ``NAME[:TAG]``, a registry ref, ``sha256:...`` or a unique hex prefix."""
        return self.match(ref)[0]

    def match(self, ref: str) -> tuple[str, str | None]:
        """(manifest digest, the tag that matched or None when ``ref`` named a digest)."""
        entries = [e for e in self.entries() if e.signature_of is None]
        if is_digest(ref):
            if any(e.digest == ref for e in entries):
                return ref, None
            raise NotFound(f"image {ref} not found in the local store", hint="see 'ocre image ls'")
        bare = ref.removeprefix("sha256:")
        if 7 <= len(bare) < 64 and all(c in "0123456789abcdef" for c in bare):
            hits = {e.digest for e in entries if e.digest.split(":", 1)[1].startswith(bare)}
            if len(hits) == 1:
                return hits.pop(), None
            if len(hits) > 1:
                raise Conflict(f"image ID prefix '{bare}' is ambiguous: it matches {len(hits)} images")
        parsed = parse_reference(ref)
        if parsed.digest:
            if any(e.digest == parsed.digest for e in entries):
                return parsed.digest, None
        else:
            for e in entries:
                if e.ref == parsed.tagged:
                    return e.digest, e.ref
            if parsed.registry is None:
                # "hello:1" also finds a pulled "localhost:5000/hello:1" when that is the only one
                names = sorted({e.ref for e in entries if e.ref and e.ref.endswith("/" + parsed.tagged)})
                if len(names) == 1:
                    return self.match(names[0])
                if names:
                    raise Conflict(
                        f"image '{ref}' is ambiguous: it matches {', '.join(names)}", hint="use the full name"
                    )
        raise NotFound(
            f"image '{ref}' not found in the local store", hint="see 'ocre image ls' or 'ocre image pull'"
        )

    def image(self, ref: str) -> StoredImage:
        digest = self.resolve(ref)
        manifest = parse_manifest(self.read_blob(digest), source=f"manifest {digest}")
        config = parse_config(self.read_blob(manifest.config.digest), manifest.config.media_type)
        refs = tuple(e.ref for e in self.entries() if e.digest == digest and e.ref)
        return StoredImage(digest, refs, manifest, config, self.blob_path(manifest.layer.digest))

    def images(self) -> list[StoredImage]:
        seen: dict[str, StoredImage] = {}
        for e in self.entries():
            if e.signature_of is None and e.digest not in seen:
                seen[e.digest] = self.image(e.digest)
        return list(seen.values())

    def signatures(self, digest: str) -> list[str]:
        return [e.digest for e in self.entries() if e.signature_of == digest]

    # --- changes ------------------------------------------------------------------------------------

    def tag(self, source: str, target: str) -> str:
        digest = self.resolve(source)
        ref = parse_reference(target).tagged
        self.add_manifest(self.read_blob(digest), ref=ref)
        return ref

    def remove(self, ref: str) -> list[str]:
        """Untag ``ref`` (or every tag of a digest); an image with no tags left is deleted with its blobs.

        Returns the refs removed.
        """
        with self.locked():
            digest, tag = self.match(ref)
            entries = self.entries()
            if tag is None:
                gone = [e for e in entries if e.digest == digest]
            else:
                gone = [e for e in entries if e.ref == tag]
            keep = [e for e in entries if e not in gone]
            if not any(e.digest == digest and e.signature_of is None for e in keep):
                keep = [e for e in keep if e.signature_of != digest]
            self._write_index(keep)
            self._collect(keep)
        return [e.ref or e.digest for e in gone]

    def prune(self) -> list[str]:
        """Delete blobs and temp files nothing in the index refers to; return the digests removed."""
        with self.locked():
            return self._collect(self.entries())

    def _referenced(self, entries: list[IndexEntry]) -> set[str]:
        live = set()
        for e in entries:
            live.add(e.digest)
            try:
                m = parse_manifest(self.read_blob(e.digest, verify=False), image=False)
            except ImageError:
                continue
            live.update(d.digest for d in (m.config, *m.layers))
        return live

    def _collect(self, entries: list[IndexEntry]) -> list[str]:
        blob_dir = self.root / "blobs" / "sha256"
        if not blob_dir.is_dir():
            return []
        live = self._referenced(entries)
        removed = []
        for path in sorted(blob_dir.iterdir()):
            digest = f"sha256:{path.name}"
            if not is_digest(digest):  # a temp file left by an interrupted write
                log.debug("removing stray file %s", path)
                path.unlink()
            elif digest not in live:
                path.unlink()
                removed.append(digest)
        return removed


def config_blob(config: dict[str, Any]) -> bytes:
    return canonical(config)
