"""Signatures other tools read (issue 13, item 5): cosign's key files, payload and ``.sig`` tag.

The registry is the real loopback docker-registry. skopeo is the other side where it can be: Debian's
skopeo 1.9 is built with sigstore support patched out ("Debian-local change: sigstore disabled"),
so the two skopeo tests skip, saying so, on such a build and run on any skopeo that signs.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.errors import ImageError, InvalidInput
from ocre_py.image import ImageStore, build_from_file, pull, push
from ocre_py.image.signing import (
    PRIVATE_PEM,
    generate_key,
    import_key,
    load_private_key,
    sign,
)
from tests.image.conftest import RegistryServer, snapshot

_counter = iter(range(10_000))


def _ref(registry: RegistryServer, name: str) -> str:
    return f"{registry.host}/{name}{next(_counter)}:1"


def _get(url: str, accept: str = "application/vnd.oci.image.manifest.v1+json") -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=10) as r:
        return r.read()


def test_generated_key_is_cosign_encrypted_pem(tmp_path: Path) -> None:
    pair = generate_key("dev", key_dir=tmp_path, password=b"pw")
    lines = pair.private_path.read_text().splitlines()  # type: ignore[union-attr]
    assert lines[0] == f"-----BEGIN {PRIVATE_PEM}-----" and lines[-1] == f"-----END {PRIVATE_PEM}-----"
    doc = json.loads(base64.b64decode("".join(lines[1:-1])))
    assert doc["kdf"]["name"] == "scrypt" and doc["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert doc["cipher"]["name"] == "nacl/secretbox" and len(base64.b64decode(doc["cipher"]["nonce"])) == 24
    assert pair.public_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(InvalidInput, match="cannot decrypt the private key: wrong password"):
        load_private_key("dev", key_dir=tmp_path, password=b"nope")
    # a private key is imported with its password, and gives the same public key
    imported = import_key("again", pair.private_path, key_dir=tmp_path / "k2", password=b"pw")  # type: ignore[arg-type]
    assert imported.key_id == pair.key_id
    assert imported.public_path.read_bytes() == pair.public_path.read_bytes()


def test_signature_is_a_cosign_sig_tag_on_the_registry(
    registry: RegistryServer, store_root: Path, hello: Path
) -> None:
    store = ImageStore(store_root)
    generate_key("dev")
    ref = _ref(registry, "cosignfmt")
    digest = build_from_file(store, ref, hello).digest
    sign(store, ref, load_private_key("dev"))
    push(store, ref)
    repo = ref.split("/", 1)[1].rsplit(":", 1)[0]
    tag = digest.replace(":", "-") + ".sig"
    manifest = json.loads(_get(f"{registry.url}/v2/{repo}/manifests/{tag}"))
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
    payload = json.loads(_get(f"{registry.url}/v2/{repo}/blobs/{layer['digest']}"))
    # the exact field sets containers/image's strict parser demands
    assert set(payload) == {"critical", "optional"}
    assert payload["critical"] == {
        "identity": {"docker-reference": ref},
        "image": {"docker-manifest-digest": digest},
        "type": "cosign container image signature",
    }
    assert isinstance(payload["optional"]["timestamp"], int)


def test_pull_with_an_imported_public_key(
    registry: RegistryServer, cli: Callable[..., object], hello: Path, tmp_path: Path, monkeypatch
) -> None:
    """Signed in one workdir; another takes in only the public PEM and pulls with --require-signature."""
    publisher = tmp_path / "publisher"
    monkeypatch.setenv("OCRE_HOME", str(publisher))
    monkeypatch.setenv("OCRE_KEY_PASSWORD", "s3cret")
    ref = _ref(registry, "imported")
    assert cli("key", "generate", "release").code == 0
    assert cli("image", "build", "-t", ref, hello).code == 0
    assert cli("image", "sign", ref, "--key", "release").code == 0
    assert cli("image", "push", ref).code == 0
    shown = cli("key", "show", "--public", "release")
    assert shown.code == 0 and shown.out.startswith("-----BEGIN PUBLIC KEY-----")
    pem = tmp_path / "release.pub"
    pem.write_text(shown.out)

    monkeypatch.setenv("OCRE_HOME", str(tmp_path / "device"))
    assert cli("key", "import", "release", pem).code == 0
    pulled = cli("image", "pull", "--require-signature", ref)
    assert pulled.code == 0, pulled.err
    assert cli("image", "verify", ref).out.startswith(f"Verified: {ref} signed by key ")


# --- skopeo, the other side ------------------------------------------------------------------------


def _skopeo_env(tmp_path: Path, pub: Path) -> tuple[str, list[str]]:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "default.yaml").write_text("default-docker:\n  use-sigstore-attachments: true\n")
    policy = tmp_path / "policy.json"
    requirement = {
        "type": "sigstoreSigned",
        "keyPath": str(pub),
        "signedIdentity": {"type": "matchRepository"},
    }
    policy.write_text(
        json.dumps(
            {
                "default": [{"type": "reject"}],
                "transports": {
                    "docker": {"": [requirement]},
                    "dir": {"": [{"type": "insecureAcceptAnything"}]},
                },
            }
        )
    )
    return skopeo, ["--policy", str(policy), "--registries.d", str(regd)]


def _skip_if_sigstore_disabled(result: subprocess.CompletedProcess[str]) -> None:
    if "sigstore disabled" in result.stderr:
        pytest.skip(f"this skopeo cannot sign or verify sigstore signatures: {result.stderr.strip()[-120:]}")


def test_skopeo_accepts_an_ocre_signature_and_refuses_unsigned(
    registry: RegistryServer, store_root: Path, hello: Path, tmp_path: Path
) -> None:
    store = ImageStore(store_root)
    pair = generate_key("dev")
    signed, unsigned = _ref(registry, "forskopeo"), _ref(registry, "unsignedforskopeo")
    for ref in (signed, unsigned):
        build_from_file(store, ref, hello)
    sign(store, signed, load_private_key("dev"))
    push(store, signed)
    push(store, unsigned)
    skopeo, opts = _skopeo_env(tmp_path, pair.public_path)

    def copy(ref: str, out: str) -> subprocess.CompletedProcess[str]:
        argv = [skopeo, *opts, "copy", "--src-tls-verify=false", f"docker://{ref}", f"dir:{tmp_path / out}"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    ok = copy(signed, "signed")
    _skip_if_sigstore_disabled(ok)
    assert ok.returncode == 0, ok.stderr
    refused = copy(unsigned, "unsigned")
    assert refused.returncode != 0 and "signature" in refused.stderr.lower()


def test_ocre_accepts_a_skopeo_signature(
    registry: RegistryServer, store_root: Path, hello: Path, tmp_path: Path
) -> None:
    """skopeo signs with a key from ``ocre key generate``; a device that imported only the .pub pulls."""
    signer = generate_key("skopeo-signer", key_dir=tmp_path / "signer", password=b"pw")
    passfile = tmp_path / "pass"
    passfile.write_text("pw")
    source = _ref(registry, "fromocre")
    push_store = ImageStore(tmp_path / "push-store")
    build_from_file(push_store, source, hello)
    push(push_store, source)
    target = _ref(registry, "signedbyskopeo")
    skopeo, opts = _skopeo_env(tmp_path, signer.public_path)
    key = str(signer.private_path)
    argv = [skopeo, "--registries.d", opts[3], "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            "--sign-by-sigstore-private-key", key, "--sign-passphrase-file", str(passfile),
            f"docker://{source}", f"docker://{target}"]  # fmt: skip
    signed = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    _skip_if_sigstore_disabled(signed)
    assert signed.returncode == 0, signed.stderr

    import_key("skopeo", signer.public_path)
    device = ImageStore(store_root)
    with pytest.raises(ImageError, match="is not signed"):
        pull(device, source, require_signature=True)
    assert snapshot(device.root) == {}
    assert pull(device, target, require_signature=True).signatures == 1
