"""cosign-format signatures: keys, sign/verify, ``.sig`` tags on a real registry, ``--require-signature``."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.errors import ImageError
from ocre_py.image import ImageStore, build_from_file, load, pull, push, resolve_runnable, save
from ocre_py.image.signing import (
    generate_key,
    load_private_key,
    sign,
    signature_image,
    signature_payload,
    trusted_keys,
    verify,
)
from tests.image.conftest import RegistryServer, snapshot

_counter = iter(range(10_000))


@pytest.fixture
def store(store_root: Path) -> ImageStore:
    return ImageStore(store_root)


def test_generate_key_writes_private_key_0600(tmp_path: Path) -> None:
    pair = generate_key("release", key_dir=tmp_path)
    assert stat.S_IMODE(pair.private_path.stat().st_mode) == 0o600
    assert pair.public_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert len(pair.key_id) == 16
    with pytest.raises(ValueError, match="key name 'release': expected a name not used yet"):
        generate_key("release", key_dir=tmp_path)


def test_sign_and_verify_locally(store: ImageStore, hello: Path) -> None:
    pair = generate_key("dev")
    build_from_file(store, "hello:1", hello)
    with pytest.raises(ImageError, match=r"image 'hello:1' \(sha256:.*\) is not signed"):
        verify(store, "hello:1", trusted_keys())
    sign(store, "hello:1", load_private_key("dev"))
    assert verify(store, "hello:1", trusted_keys()) == pair.key_id
    assert resolve_runnable("hello:1", require_signature=True).signed_by == pair.key_id


def test_signature_from_an_untrusted_key_is_refused(store: ImageStore, hello: Path, tmp_path: Path) -> None:
    generate_key("mine")
    other = generate_key("theirs", key_dir=tmp_path / "elsewhere")
    build_from_file(store, "hello:1", hello)
    sign(store, "hello:1", load_private_key(str(other.private_path)))
    with pytest.raises(ImageError, match="signature does not verify with any trusted key"):
        verify(store, "hello:1", trusted_keys(["mine"]))
    with pytest.raises(ImageError, match="no valid signature"):
        resolve_runnable("hello:1", require_signature=True, keys=["mine"])


def test_forged_signature_bytes_are_refused(store: ImageStore, hello: Path) -> None:
    generate_key("dev")
    built = build_from_file(store, "hello:1", hello)
    payload = signature_payload(built.digest, "hello:1")
    forged = base64.b64encode(b"0" * 70).decode()
    config, manifest = signature_image([(payload, forged)])
    store.put_blob(config)
    store.put_blob(payload)
    store.add_manifest(manifest, signature_of=built.digest)
    with pytest.raises(ImageError, match="does not verify with any trusted key"):
        verify(store, "hello:1", trusted_keys())


def test_save_and_load_carry_signatures(store: ImageStore, hello: Path, tmp_path: Path) -> None:
    pair = generate_key("dev")
    build_from_file(store, "hello:1", hello)
    sign(store, "hello:1", load_private_key("dev"))
    save(store, ["hello:1"], tmp_path / "signed.tar")
    other = ImageStore(tmp_path / "other")
    load(other, tmp_path / "signed.tar")
    assert verify(other, "hello:1", trusted_keys()) == pair.key_id


def _ref(registry: RegistryServer, name: str) -> str:
    return f"{registry.host}/{name}{next(_counter)}:1"


def test_signed_push_pull_with_require_signature(
    registry: RegistryServer, store: ImageStore, hello: Path, tmp_path: Path
) -> None:
    pair = generate_key("dev")
    ref = _ref(registry, "signed")
    build_from_file(store, ref, hello)
    sign(store, ref, load_private_key("dev"))
    result = push(store, ref)
    assert result.signatures == 1
    other = ImageStore(tmp_path / "other")
    pulled = pull(other, ref, require_signature=True)
    assert pulled.signatures == 1
    assert verify(other, ref, trusted_keys()) == pair.key_id


def test_require_signature_refuses_unsigned_and_replaced_images(
    registry: RegistryServer, store: ImageStore, examples: dict[str, Path], tmp_path: Path
) -> None:
    generate_key("dev")
    ref = _ref(registry, "swap")
    build_from_file(store, ref, examples["hello"])
    sign(store, ref, load_private_key("dev"))
    push(store, ref)
    # someone pushes a different, unsigned module under the same tag
    attacker = ImageStore(tmp_path / "attacker")
    build_from_file(attacker, ref, examples["blinky"])
    push(attacker, ref)
    victim = ImageStore(tmp_path / "victim")
    with pytest.raises(ImageError, match="is not signed; refusing it"):
        pull(victim, ref, require_signature=True)
    assert snapshot(victim.root) == {}


def test_require_signature_with_the_wrong_key(
    registry: RegistryServer, store: ImageStore, hello: Path, tmp_path: Path
) -> None:
    generate_key("dev")
    stranger = generate_key("stranger", key_dir=tmp_path / "k")
    ref = _ref(registry, "wrongkey")
    build_from_file(store, ref, hello)
    sign(store, ref, load_private_key("dev"))
    push(store, ref)
    victim = ImageStore(tmp_path / "victim")
    with pytest.raises(ImageError, match=r"no valid signature: .*does not verify"):
        pull(victim, ref, require_signature=True, keys=[str(stranger.public_path)])
    assert snapshot(victim.root) == {}


def test_cli_sign_verify_and_key_ls(cli: Callable[..., object], hello: Path) -> None:
    gen = cli("key", "generate", "dev")
    assert gen.code == 0 and gen.out.splitlines()[0].endswith("keys/dev.key")
    assert json.loads(cli("key", "ls", "--json").out)[0]["name"] == "dev"
    cli("image", "build", "-t", "hello:1", hello)
    unsigned = cli("image", "verify", "hello:1")
    assert unsigned.code == 1 and "is not signed" in unsigned.err.splitlines()[0]
    assert cli("image", "sign", "hello:1", "--key", "dev").code == 0
    ok = cli("image", "verify", "hello:1")
    assert ok.code == 0 and ok.out.startswith("Verified: hello:1 signed by key ")
    assert json.loads(cli("image", "ls", "--json").out)[0]["signed"] is True
