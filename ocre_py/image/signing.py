"""Image signatures: ed25519 keys, and signature manifests that refer to the image they sign.

A signature is an OCI manifest whose ``subject`` is the image manifest, whose single layer is a
small JSON payload naming that manifest digest, and whose annotation carries the ed25519
signature of the payload. That is the OCI 1.1 "referrer" shape, so it travels with ``save`` and
``push`` like any manifest. Because the payload names the manifest digest, and the manifest names
every blob digest, a valid signature vouches for every byte of the image.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ocre_py.errors import ImageError, InvalidInput, NotFound
from ocre_py.fsutil import atomic_write
from ocre_py.image import mediatypes as mt
from ocre_py.image.manifest import Descriptor, canonical, load_json, manifest_bytes, parse_manifest
from ocre_py.image.store import ImageStore
from ocre_py.names import check_name
from ocre_py.workdir import default_workdir

log = logging.getLogger(__name__)

SIGNATURE_ANNOTATION = "vnd.ocre.signature.ed25519"
KEY_ID_ANNOTATION = "vnd.ocre.signature.key-id"
PAYLOAD_TYPE = "ocre image signature v1"
EMPTY_CONFIG = b"{}"


def default_key_dir() -> Path:
    return default_workdir()[0] / "keys"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class KeyPair:
    name: str
    private_path: Path
    public_path: Path
    key_id: str


def generate_key(name: str, *, key_dir: Path | None = None, force: bool = False) -> KeyPair:
    """Write ``<name>.key`` (PKCS#8 PEM, mode 0600) and ``<name>.pub`` into the key directory."""
    check_name(name, what="key name")
    key_dir = key_dir or default_key_dir()
    priv_path, pub_path = key_dir / f"{name}.key", key_dir / f"{name}.pub"
    if priv_path.exists() and not force:
        raise InvalidInput.field(None, "key name", name, "a name not used yet", hint=f"{priv_path} exists")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    atomic_write(priv_path, pem, perms=0o600)
    atomic_write(pub_path, pub, perms=0o644)
    return KeyPair(name, priv_path, pub_path, key_id(private.public_key()))


def _key_file(name_or_path: str, suffix: str, key_dir: Path | None) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = (key_dir or default_key_dir()) / f"{name_or_path}{suffix}"
    if candidate.is_file():
        return candidate
    raise NotFound(
        f"key '{name_or_path}' not found (looked for {path} and {candidate})", hint="ocre key generate NAME"
    )


def load_private_key(name_or_path: str, *, key_dir: Path | None = None) -> Ed25519PrivateKey:
    path = _key_file(name_or_path, ".key", key_dir)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput.field(
            str(path), "key", "unreadable", f"a PEM ed25519 private key ({exc})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput.field(str(path), "key type", type(key).__name__, "ed25519")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError as exc:
        raise InvalidInput.field(
            str(path), "key", "unreadable", f"a PEM ed25519 public key ({exc})"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput.field(str(path), "key type", type(key).__name__, "ed25519")
    return key


def trusted_keys(keys: list[str] | None = None, *, key_dir: Path | None = None) -> list[Ed25519PublicKey]:
    """The given public keys (names or paths), or every ``*.pub`` in the key directory."""
    if keys:
        return [load_public_key(_key_file(k, ".pub", key_dir)) for k in keys]
    directory = key_dir or default_key_dir()
    return [load_public_key(p) for p in sorted(directory.glob("*.pub"))] if directory.is_dir() else []


def signature_manifest(image_digest: str, image_size: int, private: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    """Build (payload blob, signature manifest) signing ``image_digest``."""
    payload = canonical({"type": PAYLOAD_TYPE, "manifest-digest": image_digest})
    sig = base64.b64encode(private.sign(payload)).decode()
    manifest = manifest_bytes(
        Descriptor.for_bytes(mt.OCI_EMPTY, EMPTY_CONFIG),
        [Descriptor.for_bytes(mt.OCRE_SIGNATURE, payload)],
        subject=Descriptor(mt.OCI_MANIFEST, image_digest, image_size),
        artifact_type=mt.OCRE_SIGNATURE,
        annotations={SIGNATURE_ANNOTATION: sig, KEY_ID_ANNOTATION: key_id(private.public_key())},
    )
    return payload, manifest


def sign(store: ImageStore, ref: str, private: Ed25519PrivateKey) -> str:
    """Sign the image ``ref`` resolves to; return the signature manifest's digest."""
    digest = store.resolve(ref)
    size = len(store.read_blob(digest))
    payload, manifest = signature_manifest(digest, size, private)
    with store.locked():
        store.put_blob(EMPTY_CONFIG)
        store.put_blob(payload)
        return store.add_manifest(manifest, signature_of=digest)


def check_signature(manifest: bytes, payload: bytes, image_digest: str, keys: list[Ed25519PublicKey]) -> str:
    """Return the key id that verifies this signature over ``image_digest``, or raise ImageError."""
    parsed = parse_manifest(manifest, source="signature manifest", image=False)
    if parsed.subject is None or parsed.subject.digest != image_digest:
        raise ImageError(f"signature does not refer to image {image_digest}")
    doc = load_json(payload, "signature payload")
    if doc.get("manifest-digest") != image_digest or doc.get("type") != PAYLOAD_TYPE:
        raise ImageError(f"signature payload names {doc.get('manifest-digest')!r}, not image {image_digest}")
    try:
        sig = base64.b64decode(parsed.annotations.get(SIGNATURE_ANNOTATION, ""), validate=True)
    except ValueError:
        raise ImageError("signature annotation is not base64") from None
    for key in keys:
        try:
            key.verify(sig, payload)
            return key_id(key)
        except InvalidSignature:
            continue
    raise ImageError(f"image {image_digest}: signature does not verify with any trusted key")


def verify(store: ImageStore, ref: str, keys: list[Ed25519PublicKey]) -> str:
    """Verify ``ref`` has a valid signature from one of ``keys``; return the key id that signed it."""
    digest = store.resolve(ref)
    if not keys:
        raise ImageError("no trusted public keys", hint="ocre key generate NAME, or pass --key FILE.pub")
    sigs = store.signatures(digest)
    if not sigs:
        raise ImageError(
            f"image '{ref}' ({digest[:19]}) is not signed", hint="ocre image sign REF --key NAME"
        )
    problems = []
    for sig_digest in sigs:
        try:
            manifest = store.read_blob(sig_digest)
            layer = parse_manifest(manifest, image=False).layers[0]
            return check_signature(manifest, store.read_blob(layer.digest), digest, keys)
        except (ImageError, IndexError) as exc:
            problems.append(str(exc))
    raise ImageError(f"image '{ref}': no valid signature: {problems[0]}")
