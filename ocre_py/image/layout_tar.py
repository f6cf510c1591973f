"""``ocre image save`` / ``load``: OCI image-layout tar archives.

The archive holds ``oci-layout``, ``index.json`` and ``blobs/sha256/*`` like the store itself, with
only the chosen images (and their signatures). ``load`` reads the whole archive into memory,
rejects anything unexpected (other paths, links, a torn or corrupt archive), checks every digest and
every module, and writes to the store only when all of it is good.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tarfile
import time
from pathlib import Path

from ocre_py.errors import ImageError, InvalidInput
from ocre_py.fsutil import atomic_open
from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import digest_of, verify
from ocre_py.image.manifest import parse_manifest
from ocre_py.image.reference import parse_reference
from ocre_py.image.store import REF_NAME, SIGNATURE_OF, ImageStore
from ocre_py.image.transfer import collect, commit_many
from ocre_py.image.validate import Checks, ImageBlobs, check_image

log = logging.getLogger(__name__)
_BLOB = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
MAX_ARCHIVE_MEMBER = 256 * 1024 * 1024
#: All members together (checked on the headers before reading): a compressed archive of zeros
#: with many members just under the per-member limit must not exhaust memory.
MAX_ARCHIVE_TOTAL = 1024 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 10_000


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def save(store: ImageStore, refs: list[str], out: str | os.PathLike[str]) -> list[str]:
    """Write the images ``refs`` name (with signatures) to an OCI layout tar; return their digests."""
    if not refs:
        raise InvalidInput("no images given to save", hint="ocre image save -o FILE.tar NAME[:TAG]...")
    images: dict[str, tuple[ImageBlobs, list[str]]] = {}
    for ref in refs:
        digest, tag = store.match(ref)
        wanted = [tag] if tag else [e.ref for e in store.entries() if e.digest == digest and e.ref]
        image, tags = images.get(digest) or (collect(store, digest), [])
        images[digest] = (image, sorted({*tags, *wanted}))
    index, blobs = [], {}
    for digest, (image, tags) in images.items():
        for tag in tags or [""]:
            ann = {REF_NAME: tag} if tag else {}
            index.append(
                {
                    "mediaType": mt.OCI_MANIFEST,
                    "digest": digest,
                    "size": len(image.manifest),
                    "annotations": ann,
                }
            )
        blobs[digest] = image.manifest
        blobs.update(image.blobs)
        for sig in image.signatures:
            sd = digest_of(sig.manifest)
            index.append(
                {
                    "mediaType": mt.OCI_MANIFEST,
                    "digest": sd,
                    "size": len(sig.manifest),
                    "annotations": {SIGNATURE_OF: digest},
                }
            )
            blobs[sd] = sig.manifest
            blobs.update(sig.blobs)
    with atomic_open(out, "wb") as fh, tarfile.open(fileobj=fh, mode="w") as tar:
        _add(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add(
            tar,
            "index.json",
            json.dumps(
                {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index}, indent=2
            ).encode(),
        )
        for digest in sorted(blobs):
            _add(tar, f"blobs/sha256/{digest.split(':', 1)[1]}", blobs[digest])
    return list(images)


def _read_members(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = count = 0
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:
                count += 1
                if count > MAX_ARCHIVE_MEMBERS:
                    raise ImageError(f"{path}: more than {MAX_ARCHIVE_MEMBERS} members: not an image archive")
                name = member.name.removeprefix("./")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ImageError(
                        f"{path}: member {member.name!r} is a link or device: expected regular files only"
                    )
                if name not in ("oci-layout", "index.json") and not _BLOB.fullmatch(name):
                    raise ImageError(
                        f"{path}: unexpected member {member.name!r}: "
                        "expected oci-layout, index.json or blobs/sha256/<hex>"
                    )
                if member.size > MAX_ARCHIVE_MEMBER:
                    raise ImageError(
                        f"{path}: member '{name}' is {member.size} bytes, over the {MAX_ARCHIVE_MEMBER} limit"
                    )
                total += member.size
                if total > MAX_ARCHIVE_TOTAL:
                    raise ImageError(
                        f"{path}: members add up to over {MAX_ARCHIVE_TOTAL} bytes: refusing (archive bomb?)"
                    )
                if name in files:
                    raise ImageError(f"{path}: member '{name}' appears twice")
                fh = tar.extractfile(member)
                data = fh.read() if fh else b""
                if len(data) != member.size:
                    raise ImageError(f"{path}: member '{name}' is truncated")
                files[name] = data
    except FileNotFoundError:
        raise InvalidInput.field(None, "file", str(path), "an existing OCI layout tar") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(":")  # tarfile's are multi-line
        raise ImageError(f"{path}: not a readable tar archive (corrupt or truncated): {reason}") from None
    return files


def load(store: ImageStore, path: str | os.PathLike[str], *, checks: Checks | None = None) -> list[str]:
    """Import every tagged image of an OCI layout tar; return the refs loaded. All-or-nothing."""
    path = Path(path)
    checks = checks or Checks()
    files = _read_members(path)
    if "oci-layout" not in files or "index.json" not in files:
        missing = "oci-layout" if "oci-layout" not in files else "index.json"
        raise ImageError(f"{path}: not an OCI image layout: missing {missing}")
    try:
        index = json.loads(files["index.json"])
        entries = index["manifests"]
        if not isinstance(entries, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ImageError(f"{path}: index.json: expected an OCI index with a 'manifests' list") from None

    def blob(digest: object, what: str) -> bytes:
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise ImageError(f"{path}: {what}: digest {digest!r}: expected sha256:<hex>")
        data = files.get(f"blobs/sha256/{digest.split(':', 1)[1]}")
        if data is None:
            raise ImageError(f"{path}: missing blob {digest} ({what})")
        return data

    loaded: list[tuple[ImageBlobs, str | None]] = []
    images: dict[str, ImageBlobs] = {}
    sig_entries = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ImageError(f"{path}: index.json manifests[{i}]: expected an object")
        ann = entry.get("annotations") or {}
        if SIGNATURE_OF in ann:
            sig_entries.append(entry)
            continue
        digest = entry.get("digest")
        if digest not in images:
            manifest = blob(digest, f"manifests[{i}]")
            verify(manifest, str(digest), what=f"{path}: manifest {digest}")
            parsed = parse_manifest(manifest, source=f"{path}: manifest {str(digest)[:19]}")
            blobs = {
                d.digest: blob(d.digest, f"manifest {str(digest)[:19]}")
                for d in (parsed.config, *parsed.layers)
            }
            images[str(digest)] = ImageBlobs(manifest, blobs)
        ref = ann.get(REF_NAME)
        if ref is not None:
            ref = parse_reference(ref, what=f"{path}: index.json manifests[{i}] ref name").tagged
        loaded.append((images[str(digest)], ref))
    for entry in sig_entries:
        subject = entry["annotations"][SIGNATURE_OF]
        if subject not in images:
            continue
        manifest = blob(entry.get("digest"), "signature")
        parsed = parse_manifest(manifest, source=f"{path}: signature", image=False)
        sig_blobs = {d.digest: blob(d.digest, "signature") for d in (parsed.config, *parsed.layers)}
        images[subject].signatures.append(ImageBlobs(manifest, sig_blobs))
    if not loaded:
        raise ImageError(f"{path}: index.json lists no images")
    for digest, image in images.items():
        check_image(image, checks, source=f"{path}: image {digest[:19]}")
    digests = commit_many(store, loaded)
    return [ref or d for (_, ref), d in zip(loaded, digests, strict=True)]
