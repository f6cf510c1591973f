"""``ocre image push`` / ``pull``: moving images and their signatures between the store and a registry.

Pull takes a manifest of at most 4 MiB, streams each blob to a temp file in the store (hashing as
it goes, and reading no more than the size the manifest declares), runs the same checks as build and
load, checks the signature when asked, and records the image in the store last; so a registry error
or a bad image leaves the store as it was. Signatures travel as cosign does it: one OCI image tagged
``sha256-<hex>.sig`` beside the image (see :mod:`ocre_py.image.signing`), so cosign, skopeo and
podman find ours and we find theirs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ocre_py.errors import ImageError, InvalidInput, NotFound, RegistryError
from ocre_py.fsutil import disk_errors
from ocre_py.image import mediatypes as mt
from ocre_py.image.auth import credentials_for
from ocre_py.image.digests import digest_of, verify
from ocre_py.image.manifest import Descriptor, parse_manifest
from ocre_py.image.reference import Reference, parse_reference
from ocre_py.image.registry import DEFAULT_CHUNK, Registry
from ocre_py.image.store import ImageStore
from ocre_py.image.transfer import collect, commit
from ocre_py.image.validate import Checks, ImageBlobs, check_image
from ocre_py.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transfer:
    """What a push or pull did: the ref, manifest digest, bytes moved and blobs skipped."""

    ref: str
    digest: str
    bytes_sent: int
    blobs_skipped: int
    signatures: int


def registry_for(ref: Reference, *, insecure: bool = False, auth_file: Path | None = None) -> Registry:
    if not ref.registry:
        raise InvalidInput.field(
            None, "image reference", str(ref), "HOST[:PORT]/NAME[:TAG] to talk to a registry"
        )
    return Registry(
        ref.registry, insecure=insecure, credentials=credentials_for(ref.registry, path=auth_file)
    )


def push(
    store: ImageStore,
    source: str,
    target: str | None = None,
    *,
    insecure: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
    registry: Registry | None = None,
) -> Transfer:
    """Push the local image ``source`` to ``target`` (default: ``source`` itself, a registry ref)."""
    ref = parse_reference(target or source)
    reg = registry or registry_for(ref, insecure=insecure)
    digest = _local_image(store, source, ref)
    image = collect(store, digest)
    total = sum(len(b) for b in image.blobs.values()) + sum(
        len(b) for s in image.signatures for b in s.blobs.values()
    )
    done = sent = skipped = 0

    def send(blobs: dict[str, bytes]) -> None:
        nonlocal done, sent, skipped
        for blob_digest, data in blobs.items():
            if reg.blob_exists(ref.repository, blob_digest):
                skipped += 1
            else:
                reg.upload_blob(
                    ref.repository,
                    blob_digest,
                    data,
                    chunk_size=chunk_size,
                    progress=_offset(progress, done, total),
                )
                sent += len(data)
            done += len(data)
            if progress:
                progress(done, total)

    send(image.blobs)
    remote = reg.put_manifest(ref.repository, ref.tag or "latest", image.manifest, mt.OCI_MANIFEST)
    if remote and remote != digest:
        raise RegistryError(f"{ref.registry}: manifest stored as {remote}, expected {digest}")
    if image.signatures:
        config, sig_manifest, payloads = _merged_signature(reg, ref.repository, digest, image.signatures)
        send({digest_of(b): b for b in (config, *payloads)})
        reg.put_manifest(ref.repository, signature_tag(digest), sig_manifest, mt.OCI_MANIFEST)
    log.info("pushed %s (%s)", ref, digest)
    return Transfer(str(ref), digest, sent, skipped, len(image.signatures))


def _offset(progress: Progress | None, base: int, total: int) -> Progress | None:
    """Turn one blob's (done, size) progress into the whole push's (done, total)."""
    if progress is None:
        return None
    return lambda done, _size: progress(base + done, total)


def _local_image(store: ImageStore, source: str, ref: Reference) -> str:
    """The image to push: ``source`` itself, else the local ``NAME:TAG`` a registry ref names.

    So ``ocre image push localhost:5000/hello:1`` pushes a local ``hello:1`` without a tag step.
    """
    try:
        return store.resolve(source)
    except NotFound:
        if not ref.registry:
            raise
        return store.resolve(f"{ref.repository}:{ref.tag or 'latest'}")


def signature_tag(digest: str) -> str:
    """cosign's tag for the signatures of ``digest``: ``sha256-<hex>.sig``."""
    return digest.replace(":", "-") + ".sig"


def _remote_signature(reg: Registry, repo: str, digest: str) -> ImageBlobs | None:
    """The registry's ``.sig`` image for ``digest`` with its (small) blobs, or None."""
    try:
        manifest, _, _ = reg.get_manifest(repo, signature_tag(digest), mt.OCI_MANIFEST)
    except NotFound:
        return None
    parsed = parse_manifest(manifest, source=f"{reg.host}/{repo}:{signature_tag(digest)}", image=False)
    blobs = {d.digest: reg.get_blob(repo, d.digest) for d in (parsed.config, *parsed.layers)}
    for d, data in blobs.items():
        verify(data, d, what=f"{reg.host}/{repo}: signature blob {d[:19]}")
    return ImageBlobs(manifest, blobs)


def _merged_signature(
    reg: Registry, repo: str, digest: str, local: list[ImageBlobs]
) -> tuple[bytes, bytes, list[bytes]]:
    """One ``.sig`` image with the registry's signatures and ours (cosign appends the same way)."""
    from ocre_py.image.signing import signature_image, signature_layers

    layers: list[tuple[bytes, str]] = []
    remote = _remote_signature(reg, repo, digest)
    for sig in ([remote] if remote else []) + local:
        for layer in signature_layers(sig.manifest, sig.blobs):
            if layer not in layers:
                layers.append(layer)
    config, manifest = signature_image(layers)
    return config, manifest, [payload for payload, _ in layers]


def _fetch_manifest(reg: Registry, ref: Reference) -> bytes:
    reference = ref.digest or ref.tag or "latest"
    data, media_type, header_digest = reg.get_manifest(ref.repository, reference, mt.MANIFEST_ACCEPT)
    what = f"{ref.registry}/{ref.repository}:{reference}"
    if ref.digest:
        verify(data, ref.digest, what=f"manifest {what}")
    elif header_digest and digest_of(data) != header_digest:
        raise ImageError(
            f"manifest {what}: digest mismatch: registry says {header_digest}, content is {digest_of(data)}"
        )
    if media_type == mt.OCI_INDEX or (b'"manifests"' in data[:4096] and b'"layers"' not in data):
        try:
            entries = json.loads(data).get("manifests") or []
        except ValueError:
            raise ImageError(f"{what}: index is not valid JSON") from None
        pick = next(
            (e for e in entries if (e.get("platform") or {}).get("architecture") in ("wasm", "wasm32")), None
        )
        pick = pick or (entries[0] if entries else None)
        if not pick or "digest" not in pick:
            raise ImageError(f"{what}: image index lists no manifests")
        data, _, _ = reg.get_manifest(ref.repository, pick["digest"], mt.OCI_MANIFEST)
        verify(data, pick["digest"], what=f"manifest {what}")
    return data


def _fetch_signatures(reg: Registry, repo: str, digest: str) -> list[ImageBlobs]:
    remote = _remote_signature(reg, repo, digest)
    return [remote] if remote else []


def _download(reg: Registry, ref: Reference, desc: Descriptor, tmp: Path) -> bytes:
    """Stream one blob to a temp file in the store, hashing as it comes and stopping at its size.

    Only a blob that hashed to its digest at its declared size is read back; a registry serving
    more than the manifest declared is cut off after ``size + 1`` bytes.
    """
    path = tmp / desc.digest.split(":", 1)[1]
    what = f"{ref}: blob {desc.digest[:19]}"
    with disk_errors(path, f"blob {desc.digest[:19]} being pulled"), open(path, "wb") as fh:
        sink = _Hashing(fh)
        reg.download_blob(ref.repository, desc.digest, desc.size, sink)
    if sink.size != desc.size:
        raise ImageError(f"{what}: registry sent {sink.size} bytes, manifest says {desc.size}")
    if sink.digest != desc.digest:
        raise ImageError(f"{what}: digest mismatch: expected {desc.digest}, got {sink.digest}")
    return path.read_bytes()


class _Hashing:
    """A file wrapper that hashes what is written through it."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.size, self._hash = fh, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return self.fh.write(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def pull(
    store: ImageStore,
    source: str,
    *,
    insecure: bool = False,
    checks: Checks | None = None,
    require_signature: bool = False,
    keys: list[str] | None = None,
    progress: Progress | None = None,
    registry: Registry | None = None,
) -> Transfer:
    """Pull ``source`` (a registry ref) into the store; nothing is written unless every check passes."""
    ref = parse_reference(source)
    reg = registry or registry_for(ref, insecure=insecure)
    manifest_bytes = _fetch_manifest(reg, ref)
    digest = digest_of(manifest_bytes)
    manifest = parse_manifest(manifest_bytes, source=f"{ref}: manifest")
    total = sum(d.size for d in (manifest.config, *manifest.layers))
    blobs: dict[str, bytes] = {}
    done = 0
    store.root.mkdir(parents=True, exist_ok=True)
    with disk_errors(store.root, "a pull's temp directory"):
        tmp_dir = tempfile.TemporaryDirectory(prefix=".pull-", dir=store.root)
    with tmp_dir as tmp:
        for desc in (manifest.config, *manifest.layers):
            blobs[desc.digest] = _download(reg, ref, desc, Path(tmp))
            done += desc.size
            if progress:
                progress(done, total)
    image = ImageBlobs(manifest_bytes, blobs, _fetch_signatures(reg, ref.repository, digest))
    check_image(image, checks or Checks(), source=str(ref))
    if require_signature:
        from ocre_py.image.signing import trusted_keys, verify_signatures

        try:
            verify_signatures(
                digest, [(s.manifest, s.blobs) for s in image.signatures], trusted_keys(keys), source=str(ref)
            )
        except ImageError as exc:
            raise ImageError(f"{exc.message}; refusing it (--require-signature)", hint=exc.hint) from None
    tagged = None if ref.digest and not ref.tag else ref.tagged
    commit(store, image, tagged)
    return Transfer(str(ref), digest, done, 0, len(image.signatures))


def pull_url(
    store: ImageStore,
    url: str,
    name: str | None = None,
    *,
    checks: Checks | None = None,
    timeout: float = 30.0,
) -> tuple[str, str]:
    """Upstream's ``image pull http://host/x.wasm [NAME]``: fetch a raw module and store it as an image.

    NAME defaults to the last path segment of the URL (upstream's rule). Returns (ref, digest).
    """
    import urllib.error
    import urllib.request

    from ocre_py.image.build import ImageOptions, build_image

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput.field(None, "URL", url, "http://HOST[:PORT]/PATH")
    segment = parts.path.rsplit("/", 1)[-1]
    name = name or segment
    if not name:
        raise InvalidInput.field(None, "URL", url, "a path ending in a file name (or give NAME)")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = resp.read()
    except urllib.error.HTTPError as exc:
        raise RegistryError(f"GET {url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RegistryError(f"GET {url}: {getattr(exc, 'reason', exc)}") from None
    chk = checks or Checks()
    built = build_image(
        store,
        name,
        data,
        ImageOptions(target=chk.target or "linux", features=chk.features, ram_budget=chk.ram_budget),
        source=url,
    )
    return built.ref, built.digest
