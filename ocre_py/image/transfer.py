"""Writing a fully checked :class:`ImageBlobs` into the store (the commit step of load and pull)."""

from __future__ import annotations

from ocre_py.image.digests import digest_of
from ocre_py.image.store import ImageStore
from ocre_py.image.validate import ImageBlobs


def commit(store: ImageStore, image: ImageBlobs, ref: str | None) -> str:
    """Store one checked image; see :func:`commit_many`."""
    return commit_many(store, [(image, ref)])[0]


def commit_many(store: ImageStore, images: list[tuple[ImageBlobs, str | None]]) -> list[str]:
    """Store every blob first, then record all manifests in one index update.

    The index never names a missing blob, and a load of many images rewrites ``index.json`` once.
    """
    with store.locked():
        for image, _ in images:
            for data in (*image.blobs.values(), image.manifest):
                store.put_blob(data)
            for sig in image.signatures:
                for data in (*sig.blobs.values(), sig.manifest):
                    store.put_blob(data)
        return store.record(
            [(image.manifest, ref, None) for image, ref in images]
            + [
                (sig.manifest, None, digest_of(image.manifest))
                for image, _ in images
                for sig in image.signatures
            ]
        )[: len(images)]


def collect(store: ImageStore, digest: str) -> ImageBlobs:
    """Read an image and its signatures back out of the store, for save and push."""
    from ocre_py.image.manifest import parse_manifest

    def one(manifest_digest: str, image: bool) -> ImageBlobs:
        manifest = store.read_blob(manifest_digest)
        parsed = parse_manifest(manifest, source=f"manifest {manifest_digest}", image=image)
        blobs = {d.digest: store.read_blob(d.digest) for d in (parsed.config, *parsed.layers)}
        return ImageBlobs(manifest, blobs)

    out = one(digest, True)
    out.signatures = [one(s, False) for s in store.signatures(digest)]
    return out
