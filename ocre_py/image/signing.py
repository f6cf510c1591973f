"""Image signatures in cosign's key-based format, so cosign and skopeo verify ours and we verify theirs.

A signature is a "simple signing" JSON payload::

    {"critical": {"identity": {"docker-reference": REF},
                  "image": {"docker-manifest-digest": DIGEST},
                  "type": "cosign container image signature"},
     "optional": {...}}

signed with ECDSA P-256 / SHA-256 (cosign's default key type). The payload is a layer of media type
``application/vnd.dev.cosign.simplesigning.v1+json`` in a small OCI image whose layer annotation
``dev.cosignproject.cosign/signature`` holds the base64 DER signature; a registry keeps that image
under the tag ``sha256-<hex>.sig`` next to the image it signs. Locally the store records each such
manifest as a signature of the image digest, so ``save``/``load`` carry it too. Because the payload
names the manifest digest, and the manifest names every blob digest, a valid signature vouches for
every byte of the image. As cosign does, only the digest is binding: ``docker-reference`` is
reported, not compared (an image is often signed under one name and run under another).

Keys are cosign's files: ``NAME.pub`` is a PKIX ``PUBLIC KEY`` PEM, ``NAME.key`` is cosign's
encrypted private key (PKCS#8 DER sealed with nacl secretbox under a scrypt key, as JSON in an
``ENCRYPTED COSIGN PRIVATE KEY`` PEM block, the type skopeo 1.9 reads; ``ENCRYPTED SIGSTORE PRIVATE
KEY`` from newer cosign is read too). Signatures in the ed25519 annotation format from before issue
13 are no longer read: re-sign such images.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ocre_py.errors import ImageError, InvalidInput, NotFound
from ocre_py.fsutil import atomic_write
from ocre_py.image import mediatypes as mt
from ocre_py.image.manifest import Descriptor, canonical, load_json, manifest_bytes, parse_manifest
from ocre_py.image.store import ImageStore
from ocre_py.names import check_name
from ocre_py.workdir import default_workdir

log = logging.getLogger(__name__)

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"
PRIVATE_PEM = "ENCRYPTED COSIGN PRIVATE KEY"
PRIVATE_PEM_TYPES = (PRIVATE_PEM, "ENCRYPTED SIGSTORE PRIVATE KEY")
PUBLIC_PEM = "PUBLIC KEY"
#: go-tuf's "standard" scrypt parameters, what cosign writes.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 32768, 8, 1
_MAX_SCRYPT_N = 1 << 20
SignatureKey = ec.EllipticCurvePublicKey


def default_key_dir() -> Path:
    return default_workdir()[0] / "keys"


def key_id(public: SignatureKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


@dataclass(frozen=True)
class KeyPair:
    name: str
    private_path: Path | None
    public_path: Path
    key_id: str


# --- cosign's encrypted private key ----------------------------------------------------------------


def _pem(kind: str, data: bytes) -> bytes:
    body = base64.encodebytes(data).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n").encode()


def _unpem(text: bytes, source: str) -> tuple[str, bytes]:
    lines = text.decode("ascii", "replace").strip().splitlines()
    if len(lines) < 2 or not lines[0].startswith("-----BEGIN ") or not lines[-1].startswith("-----END "):
        raise InvalidInput.field(source, "key", "not PEM", "a PEM block (-----BEGIN ...-----)")
    kind = lines[0].removeprefix("-----BEGIN ").rstrip("-")
    try:
        return kind, base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        raise InvalidInput.field(source, "key", "bad base64", "a PEM block") from None


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=32)


def encrypt_private_key(private: ec.EllipticCurvePrivateKey, password: bytes) -> bytes:
    """cosign's ``ENCRYPTED COSIGN PRIVATE KEY`` PEM of ``private`` under ``password``."""
    from nacl.secret import SecretBox

    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, nonce = os.urandom(32), os.urandom(SecretBox.NONCE_SIZE)
    sealed = SecretBox(_scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(der, nonce)
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed.ciphertext).decode(),
    }
    return _pem(PRIVATE_PEM, json.dumps(doc).encode())


def decrypt_private_key(pem: bytes, password: bytes, *, source: str) -> ec.EllipticCurvePrivateKey:
    """Open a cosign encrypted private key; a wrong password or another format is one line."""
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    kind, raw = _unpem(pem, source)
    if kind not in PRIVATE_PEM_TYPES:
        raise InvalidInput.field(
            source, "key type", kind, " or ".join(PRIVATE_PEM_TYPES), hint="ocre key generate NAME"
        )
    try:
        doc = json.loads(raw)
        kdf, cipher = doc["kdf"], doc["cipher"]
        params = kdf["params"]
        n, r, p = int(params["N"]), int(params["r"]), int(params["p"])
        salt, nonce = base64.b64decode(kdf["salt"]), base64.b64decode(cipher["nonce"])
        ciphertext = base64.b64decode(doc["ciphertext"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput.field(
            source, "key", "unreadable", "cosign's scrypt + nacl/secretbox JSON"
        ) from None
    if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox":
        raise InvalidInput.field(source, "key cipher", cipher.get("name"), "scrypt + nacl/secretbox")
    if not (1 < n <= _MAX_SCRYPT_N and 0 < r <= 32 and 0 < p <= 16) or len(nonce) != SecretBox.NONCE_SIZE:
        raise InvalidInput.field(source, "scrypt parameters", params, f"N ≤ {_MAX_SCRYPT_N}, r ≤ 32, p ≤ 16")
    try:
        der = SecretBox(_scrypt(password, salt, n, r, p)).decrypt(ciphertext, nonce)
    except CryptoError:
        raise InvalidInput(
            f"{source}: cannot decrypt the private key: wrong password",
            hint="set $OCRE_KEY_PASSWORD (or $COSIGN_PASSWORD) to the key's password",
        ) from None
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidInput.field(source, "key type", type(key).__name__, "an ECDSA key (cosign's default)")
    return key


# --- key files --------------------------------------------------------------------------------------


def _new_key_paths(name: str, key_dir: Path | None, force: bool) -> tuple[Path, Path]:
    """``(NAME.key, NAME.pub)`` in the key directory; refused when taken unless ``force``."""
    check_name(name, what="key name")
    key_dir = key_dir or default_key_dir()
    priv_path, pub_path = key_dir / f"{name}.key", key_dir / f"{name}.pub"
    if (priv_path.exists() or pub_path.exists()) and not force:
        raise InvalidInput.field(None, "key name", name, "a name not used yet", hint=f"{pub_path} exists")
    return priv_path, pub_path


def generate_key(
    name: str, *, key_dir: Path | None = None, force: bool = False, password: bytes = b""
) -> KeyPair:
    """Write ``<name>.key`` (cosign encrypted PEM, mode 0600) and ``<name>.pub`` (PKIX PEM)."""
    priv_path, pub_path = _new_key_paths(name, key_dir, force)
    private = ec.generate_private_key(ec.SECP256R1())
    atomic_write(priv_path, encrypt_private_key(private, password), perms=0o600)
    atomic_write(pub_path, public_pem(private.public_key()), perms=0o644)
    return KeyPair(name, priv_path, pub_path, key_id(private.public_key()))


def public_pem(public: SignatureKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def import_key(
    name: str, path: Path, *, key_dir: Path | None = None, force: bool = False, password: bytes = b""
) -> KeyPair:
    """Take in a cosign key: a public ``PUBLIC KEY`` PEM, or an encrypted private key (with its .pub)."""
    priv_path, pub_path = _new_key_paths(name, key_dir, force)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput.field(None, "key file", str(path), f"a readable file ({exc.strerror})") from None
    kind, _ = _unpem(data, str(path))
    if kind == PUBLIC_PEM:
        public = _parse_public(data, str(path))
        atomic_write(pub_path, public_pem(public), perms=0o644)
        return KeyPair(name, None, pub_path, key_id(public))
    private = decrypt_private_key(data, password, source=str(path))
    atomic_write(priv_path, data, perms=0o600)
    atomic_write(pub_path, public_pem(private.public_key()), perms=0o644)
    return KeyPair(name, priv_path, pub_path, key_id(private.public_key()))


def key_file(name_or_path: str, suffix: str, key_dir: Path | None = None) -> Path:
    """A key by path, or by name in the key directory (``NAME.key`` / ``NAME.pub``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = (key_dir or default_key_dir()) / f"{name_or_path}{suffix}"
    if candidate.is_file():
        return candidate
    raise NotFound(
        f"key '{name_or_path}' not found (looked for {path} and {candidate})", hint="ocre key generate NAME"
    )


def load_private_key(
    name_or_path: str, *, key_dir: Path | None = None, password: bytes = b""
) -> ec.EllipticCurvePrivateKey:
    path = key_file(name_or_path, ".key", key_dir)
    return decrypt_private_key(path.read_bytes(), password, source=str(path))


def _parse_public(data: bytes, source: str) -> SignatureKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidInput.field(source, "key", "unreadable", f"a PEM public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        hint = "keys from before issue 13 were ed25519: make a new one with 'ocre key generate'"
        raise InvalidInput.field(source, "key type", type(key).__name__, "an ECDSA key", hint=hint)
    return key


def load_public_key(path: Path) -> SignatureKey:
    return _parse_public(path.read_bytes(), str(path))


def trusted_keys(keys: list[str] | None = None, *, key_dir: Path | None = None) -> list[SignatureKey]:
    """The given public keys (names or paths), or every ``*.pub`` in the key directory."""
    if keys:
        return [load_public_key(key_file(k, ".pub", key_dir)) for k in keys]
    directory = key_dir or default_key_dir()
    return [load_public_key(p) for p in sorted(directory.glob("*.pub"))] if directory.is_dir() else []


# --- signatures -------------------------------------------------------------------------------------


def signature_payload(image_digest: str, identity: str) -> bytes:
    """The simple-signing payload cosign writes (``optional`` carries who made it and when)."""
    return canonical(
        {
            "critical": {
                "identity": {"docker-reference": identity},
                "image": {"docker-manifest-digest": image_digest},
                "type": PAYLOAD_TYPE,
            },
            "optional": {"creator": "ocre", "timestamp": int(time.time())},
        }
    )


def signature_image(layers: list[tuple[bytes, str]]) -> tuple[bytes, bytes]:
    """(config, manifest) of a ``.sig`` image holding (payload, base64 signature) layers."""
    descs = [Descriptor.for_bytes(mt.COSIGN_SIMPLESIGNING, p, **{SIGNATURE_ANNOTATION: s}) for p, s in layers]
    config = canonical(
        {
            "architecture": "",
            "config": {},
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [d.digest for d in descs]},
        }
    )
    return config, manifest_bytes(Descriptor.for_bytes(mt.OCI_CONFIG, config), descs)


def signature_layers(manifest: bytes, blobs: dict[str, bytes]) -> list[tuple[bytes, str]]:
    """The (payload, base64 signature) pairs of a ``.sig`` manifest (other layers are skipped)."""
    parsed = parse_manifest(manifest, source="signature manifest", image=False)
    return [
        (blobs[d.digest], d.annotations.get(SIGNATURE_ANNOTATION, ""))
        for d in parsed.layers
        if d.media_type == mt.COSIGN_SIMPLESIGNING and d.digest in blobs
    ]


def sign(
    store: ImageStore, ref: str, private: ec.EllipticCurvePrivateKey, *, identity: str | None = None
) -> str:
    """Sign the image ``ref`` resolves to; return the signature manifest's digest.

    ``identity`` (default: ``ref``) becomes ``docker-reference``; sign under the name the image will
    be pulled by (``HOST/NAME:TAG``) for skopeo/podman policies that match it exactly.
    """
    digest, tag = store.match(ref)
    if identity is None:
        refs = [tag] if tag else [e.ref for e in store.entries() if e.digest == digest and e.ref]
        identity = refs[0] if refs else digest
    payload = signature_payload(digest, identity)
    sig = base64.b64encode(private.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    config, manifest = signature_image([(payload, sig)])
    with store.locked():
        store.put_blob(config)
        store.put_blob(payload)
        return store.add_manifest(manifest, signature_of=digest)


def _check_payload(payload: bytes, image_digest: str) -> dict[str, Any]:
    doc = load_json(payload, "signature payload")
    critical = doc.get("critical")
    if not isinstance(critical, dict) or critical.get("type") != PAYLOAD_TYPE:
        raise ImageError(f"signature payload: critical.type is not {PAYLOAD_TYPE!r}")
    named = (critical.get("image") or {}).get("docker-manifest-digest")
    if named != image_digest:
        raise ImageError(f"signature payload names {named!r}, not image {image_digest}")
    return critical


def check_signature(
    manifest: bytes, blobs: dict[str, bytes], image_digest: str, keys: list[SignatureKey]
) -> str:
    """Return the key id that verifies a layer of this ``.sig`` manifest over ``image_digest``."""
    layers = signature_layers(manifest, blobs)
    if not layers:
        raise ImageError(f"signature of {image_digest[:19]} has no {mt.COSIGN_SIMPLESIGNING} layer")
    problem = "signature does not verify with any trusted key"
    for payload, sig_b64 in layers:
        try:
            sig = base64.b64decode(sig_b64, validate=True)
        except ValueError:
            problem = "signature annotation is not base64"
            continue
        verified = None
        for key in keys:
            try:
                key.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
                verified = key
                break
            except InvalidSignature:
                continue
        if verified is None:
            continue
        try:
            _check_payload(payload, image_digest)  # only a verified payload is worth reading
        except ImageError as exc:
            problem = str(exc)
            continue
        return key_id(verified)
    raise ImageError(f"image {image_digest}: {problem}")


def verify_signatures(
    image_digest: str,
    signatures: list[tuple[bytes, dict[str, bytes]]],
    keys: list[SignatureKey],
    *,
    source: str,
) -> str:
    """The key id of the first of ``signatures`` (manifest, blobs) that one of ``keys`` verifies."""
    if not keys:
        raise ImageError(
            "no trusted public keys", hint="ocre key generate NAME, or ocre key import NAME FILE.pub"
        )
    if not signatures:
        raise ImageError(
            f"{source} ({image_digest[:19]}) is not signed", hint="ocre image sign REF --key NAME"
        )
    problems = []
    for manifest, blobs in signatures:
        try:
            return check_signature(manifest, blobs, image_digest, keys)
        except ImageError as exc:
            problems.append(str(exc))
    raise ImageError(f"{source}: no valid signature: {problems[0]}")


def verify(store: ImageStore, ref: str, keys: list[SignatureKey]) -> str:
    """Verify ``ref`` has a valid signature from one of ``keys``; return the key id that signed it."""
    digest = store.resolve(ref)
    signatures = []
    for sig_digest in store.signatures(digest):
        manifest = store.read_blob(sig_digest)
        parsed = parse_manifest(manifest, source=f"signature {sig_digest[:19]}", image=False)
        signatures.append((manifest, {d.digest: store.read_blob(d.digest) for d in parsed.layers}))
    return verify_signatures(digest, signatures, keys, source=f"image '{ref}'")
