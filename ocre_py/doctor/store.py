"""``ocre doctor`` on the image store: layout, index, blobs and their digests, orphans, temp files."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ocre_py.doctor.report import HEX64, TEMP_FILE, Finding, flock, remove_path, sha256_file, temp_files
from ocre_py.errors import OcreError

log = logging.getLogger(__name__)


# --- the image store ------------------------------------------------------------------------------


def check_store(root: str | os.PathLike[str], *, repair: bool = False) -> list[Finding]:
    """Check an OCI image-layout store (see :mod:`ocre_py.image.store`); optionally repair it."""
    root = Path(root)
    if not root.exists():
        return []
    with flock(root / ".lock"):
        return _check_store(root, repair)


def _check_store(root: Path, repair: bool) -> list[Finding]:
    from ocre_py.image.digests import is_digest
    from ocre_py.image.manifest import parse_manifest
    from ocre_py.image.store import REF_NAME, SIGNATURE_OF, ImageStore, IndexEntry

    out: list[Finding] = []
    out += temp_files(root, "store", repair)
    blob_dir = root / "blobs" / "sha256"
    out += temp_files(blob_dir, "store", repair)
    store = ImageStore(root)

    # Blobs: every name is a digest and every content matches it.
    good: set[str] = set()
    if blob_dir.is_dir():
        for p in sorted(blob_dir.iterdir()):
            if not p.is_file() or TEMP_FILE.fullmatch(p.name):
                continue
            if not HEX64.fullmatch(p.name):
                f = Finding("store", str(p), "a file that is not a blob in the blob directory", "warning")
                if repair:
                    f.repaired = remove_path(p)
                out.append(f)
            elif sha256_file(p) != p.name:
                f = Finding("store", str(p), "blob content does not match its digest (corrupt)")
                if repair:
                    f.repaired = remove_path(p) + " (re-pull or re-build the image)"
                out.append(f)
            else:
                good.add(f"sha256:{p.name}")

    layout = root / "oci-layout"
    try:
        version = json.loads(layout.read_bytes()).get("imageLayoutVersion")
        if not isinstance(version, str):
            raise ValueError
    except FileNotFoundError:
        # A kill before the first write leaves a store with only its lock file: not damage, and
        # the next writer creates the layout; with blobs present, recreating it is the repair.
        f = Finding("store", str(layout), "oci-layout file missing", "warning")
        if repair:
            from ocre_py.fsutil import atomic_write

            atomic_write(layout, json.dumps({"imageLayoutVersion": "1.0.0"}))
            f.repaired = "wrote oci-layout"
        if good or (root / "index.json").exists():
            out.append(f)
    except (OSError, ValueError, AttributeError):
        f = Finding("store", str(layout), "invalid oci-layout file")
        if repair:
            from ocre_py.fsutil import atomic_write

            atomic_write(layout, json.dumps({"imageLayoutVersion": "1.0.0"}))
            f.repaired = "rewrote oci-layout"
        out.append(f)

    index = root / "index.json"
    entries: list[IndexEntry] = []
    raw: list[Any] = []
    if index.exists():
        try:
            doc = json.loads(index.read_bytes())
            raw = doc["manifests"]
            if not isinstance(raw, list):
                raise TypeError
        except (OSError, ValueError, KeyError, TypeError):
            out.append(
                Finding(
                    "store",
                    str(index),
                    "index.json does not parse as an OCI index: restore it or remove the store",
                )
            )
            return out
    elif good:
        out.append(Finding("store", str(index), "index.json is missing but blobs exist", "warning"))

    keep: list[IndexEntry] = []
    changed = False
    for i, m in enumerate(raw):
        try:
            ann = dict(m.get("annotations") or {})
            entry = IndexEntry(
                m["digest"], m["size"], ann.pop(REF_NAME, None), ann.pop(SIGNATURE_OF, None), ann
            )
            if not is_digest(entry.digest):
                raise ValueError
        except (AttributeError, KeyError, TypeError, ValueError):
            f = Finding("store", f"{index}#manifests[{i}]", "malformed index entry")
            if repair:
                f.repaired, changed = "dropped the entry", True
            out.append(f)
            continue
        entries.append(entry)
        what = entry.ref or entry.signature_of or entry.digest
        missing = _missing_blobs(entry.digest, good, store, parse_manifest)
        if missing:
            f = Finding(
                "store", f"{index}#{what}", f"image {entry.digest[:19]} lacks blob(s) {', '.join(missing)}"
            )
            if repair:
                f.repaired, changed = "dropped the index entry (pull or build it again)", True
            out.append(f)
            continue
        keep.append(entry)
    # A signature whose image left the index is dead weight.
    live_images = {e.digest for e in keep if e.signature_of is None}
    for e in list(keep):
        if e.signature_of is not None and e.signature_of not in live_images:
            f = Finding("store", f"{index}#{e.digest[:19]}", "signature of an image no longer in the store",
                        "warning")  # fmt: skip
            if repair:
                keep.remove(e)
                f.repaired, changed = "dropped the signature entry", True
            out.append(f)
    if repair and changed:
        store._write_index(keep)

    live = _live_blobs(keep if repair else entries, good, store, parse_manifest)
    for digest in sorted(good - live):
        p = blob_dir / digest.split(":", 1)[1]
        f = Finding("store", str(p), "orphan blob: no image refers to it", "warning")
        if repair:
            f.repaired = remove_path(p)
        out.append(f)
    return out


def _missing_blobs(digest: str, good: set[str], store: Any, parse_manifest: Any) -> list[str]:
    if digest not in good:
        return [digest[:19]]
    try:
        m = parse_manifest(store.blob_path(digest).read_bytes(), image=False)
    except OcreError:
        return [digest[:19] + " (not a manifest)"]
    return [d.digest[:19] for d in (m.config, *m.layers) if d.digest not in good]


def _live_blobs(entries: list[Any], good: set[str], store: Any, parse_manifest: Any) -> set[str]:
    live: set[str] = set()
    for e in entries:
        live.add(e.digest)
        if e.digest in good:
            try:
                m = parse_manifest(store.blob_path(e.digest).read_bytes(), image=False)
            except OcreError:
                continue
            live.update(d.digest for d in (m.config, *m.layers))
    return live
