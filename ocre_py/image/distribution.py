"""``ocre image push`` / ``pull``: moving images and their signatures between the store and a registry.

Pull downloads everything into memory, verifies each digest against the manifest, runs the same
checks as build and load, checks the signature when asked, and writes to the store last; so a
registry error or a bad image leaves the store as it was. Signatures travel as OCI referrers:
through the referrers API when the registry has one, else through the OCI 1.1 fallback tag
``sha256-<hex>`` holding an index of referrers (what docker-registry 2.8 needs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocre_py.errors import ImageError, InvalidInput, NotFound, RegistryError
from ocre_py.image import mediatypes as mt
from ocre_py.image.auth import credentials_for
from ocre_py.image.digests import digest_of, verify
from ocre_py.image.manifest import canonical, parse_manifest
from ocre_py.image.reference import Reference, parse_reference
from ocre_py.image.registry import DEFAULT_CHUNK, Registry
from ocre_py.image.store import ImageStore
from ocre_py.image.transfer import collect, commit
from ocre_py.image.validate import Checks, ImageBlobs, check_image

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


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


def _fallback_tag(digest: str) -> str:
    return digest.replace(":", "-")


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
    for sig in image.signatures:
        send(sig.blobs)
        sig_digest = digest_of(sig.manifest)
        reg.put_manifest(ref.repository, sig_digest, sig.manifest, mt.OCI_MANIFEST)
    if image.signatures and reg.referrers(ref.repository, digest) is None:
        _update_fallback_index(reg, ref.repository, digest, image.signatures)
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


def _update_fallback_index(reg: Registry, repo: str, digest: str, signatures: list[ImageBlobs]) -> None:
    tag = _fallback_tag(digest)
    manifests: list[dict[str, object]] = []
    try:
        data, _, _ = reg.get_manifest(repo, tag, mt.OCI_INDEX)
        manifests = list(json.loads(data).get("manifests") or [])
    except NotFound:
        pass
    except ValueError:
        manifests = []
    have = {m.get("digest") for m in manifests}
    for sig in signatures:
        d = digest_of(sig.manifest)
        if d not in have:
            manifests.append(
                {
                    "mediaType": mt.OCI_MANIFEST,
                    "digest": d,
                    "size": len(sig.manifest),
                    "artifactType": mt.OCRE_SIGNATURE,
                }
            )
    index = canonical({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests})
    reg.put_manifest(repo, tag, index, mt.OCI_INDEX)


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
    descriptors = reg.referrers(repo, digest)
    if descriptors is None:
        try:
            data, _, _ = reg.get_manifest(repo, _fallback_tag(digest), mt.OCI_INDEX)
            descriptors = list(json.loads(data).get("manifests") or [])
        except NotFound:
            return []
        except ValueError:
            raise ImageError(
                f"{reg.host}/{repo}: referrers index for {digest[:19]} is not valid JSON"
            ) from None
    out = []
    for desc in descriptors:
        if desc.get("artifactType") != mt.OCRE_SIGNATURE:
            continue
        sig_digest = desc["digest"]
        manifest, _, _ = reg.get_manifest(repo, sig_digest, mt.OCI_MANIFEST)
        verify(manifest, sig_digest, what=f"signature manifest {sig_digest[:19]}")
        parsed = parse_manifest(manifest, source=f"signature {sig_digest[:19]}", image=False)
        blobs = {d.digest: reg.get_blob(repo, d.digest) for d in (parsed.config, *parsed.layers)}
        out.append(ImageBlobs(manifest, blobs))
    return out


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
    for desc in (manifest.config, *manifest.layers):
        data = reg.get_blob(ref.repository, desc.digest)
        verify(data, desc.digest, what=f"{ref}: blob {desc.digest[:19]}")
        blobs[desc.digest] = data
        done += len(data)
        if progress:
            progress(done, total)
    image = ImageBlobs(manifest_bytes, blobs, _fetch_signatures(reg, ref.repository, digest))
    check_image(image, checks or Checks(), source=str(ref))
    if require_signature:
        _require_signature(image, digest, keys, source=str(ref))
    tagged = None if ref.digest and not ref.tag else ref.tagged
    commit(store, image, tagged)
    return Transfer(str(ref), digest, done, 0, len(image.signatures))


def _require_signature(image: ImageBlobs, digest: str, keys: list[str] | None, *, source: str) -> None:
    from ocre_py.image.signing import check_signature, trusted_keys

    trusted = trusted_keys(keys)
    if not trusted:
        raise ImageError(
            "no trusted public keys to check the signature", hint="ocre key generate NAME, or --key FILE.pub"
        )
    if not image.signatures:
        raise ImageError(f"{source}: image is not signed; refusing it (--require-signature)")
    problem = ""
    for sig in image.signatures:
        layer = parse_manifest(sig.manifest, image=False).layers
        if not layer:
            continue
        try:
            check_signature(sig.manifest, sig.blobs[layer[0].digest], digest, trusted)
            return
        except ImageError as exc:
            problem = str(exc)
    raise ImageError(f"{source}: no valid signature ({problem}); refusing it (--require-signature)")


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
