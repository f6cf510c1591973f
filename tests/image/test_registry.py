"""Push and pull against a real docker-registry on loopback: round trips, chunked upload, auth, errors."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from ocre_py.errors import ImageError, RegistryError
from ocre_py.image import ImageStore, build_from_file, pull, push
from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import digest_of
from ocre_py.image.manifest import Descriptor, canonical, manifest_bytes
from ocre_py.image.registry import Registry
from tests.image.conftest import PASSWORD, USER, RegistryServer, http_server, snapshot
from tests.ports import free_port

_counter = iter(range(10_000))


def unique(name: str) -> str:
    """Repositories are shared by the whole session: give each test its own."""
    return f"{name}{next(_counter)}"


@pytest.fixture
def store(store_root: Path) -> ImageStore:
    return ImageStore(store_root)


def test_push_pull_round_trip_keeps_the_digest(
    registry: RegistryServer, store: ImageStore, hello: Path, tmp_path: Path
) -> None:
    ref = f"{registry.host}/{unique('hello')}:1"
    built = build_from_file(store, ref, hello)
    pushed = push(store, ref)
    assert pushed.digest == built.digest and pushed.bytes_sent > hello.stat().st_size
    other = ImageStore(tmp_path / "other")
    pulled = pull(other, ref)
    assert pulled.digest == built.digest
    assert other.image(ref).layer_path.read_bytes() == hello.read_bytes()
    assert other.image(ref).config == store.image(ref).config
    # pull by digest too
    by_digest = ImageStore(tmp_path / "third")
    pull(by_digest, f"{registry.host}/{ref.split('/')[1].split(':')[0]}@{built.digest}")
    assert by_digest.resolve(built.digest) == built.digest


def test_second_push_skips_blobs_the_registry_has(
    registry: RegistryServer, store: ImageStore, hello: Path
) -> None:
    ref = f"{registry.host}/{unique('again')}:1"
    build_from_file(store, ref, hello)
    push(store, ref)
    again = push(store, ref)
    assert again.blobs_skipped == 2 and again.bytes_sent == 0


def test_chunked_upload_sends_patches(
    registry: RegistryServer, store: ImageStore, hello: Path, tmp_path: Path
) -> None:
    repo = unique("chunky")
    ref = f"{registry.host}/{repo}:1"
    build_from_file(store, ref, hello)
    seen: list[tuple[int, int]] = []
    push(store, ref, chunk_size=4096, progress=lambda done, total: seen.append((done, total)))
    patches = [
        line for line in registry.log.read_text().splitlines() if f'"PATCH /v2/{repo}/blobs/uploads/' in line
    ]
    assert len(patches) >= hello.stat().st_size // 4096
    assert seen[-1][0] == seen[-1][1]  # progress reaches 100%
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    pulled = ImageStore(tmp_path / "p")
    pull(pulled, ref)
    assert pulled.image(ref).layer_path.read_bytes() == hello.read_bytes()


def test_pull_of_missing_tag_is_not_found_and_store_unchanged(
    registry: RegistryServer, cli: Callable[..., object], hello: Path, store_root: Path
) -> None:
    assert cli("image", "build", "-t", "seed:1", hello).code == 0
    before = snapshot(store_root)
    result = cli("image", "pull", f"{registry.host}/nothing-here:1")
    assert result.code == 1
    assert result.err.splitlines() == [
        f"ocre: error: {registry.host}: GET manifest nothing-here:1: "
        "404 not found: MANIFEST_UNKNOWN manifest unknown"
    ]
    assert snapshot(store_root) == before


def test_tampered_blob_in_the_registry_is_caught(
    registry: RegistryServer, store: ImageStore, hello: Path, tmp_path: Path
) -> None:
    ref = f"{registry.host}/{unique('tamper')}:1"
    build_from_file(store, ref, hello)
    push(store, ref)
    layer = store.image(ref).manifest.layer.digest
    hexd = layer.split(":")[1]
    data_file = registry.root / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"
    original = data_file.read_bytes()
    tampered = bytearray(original)
    tampered[200] ^= 0xFF
    data_file.write_bytes(bytes(tampered))
    try:
        other = ImageStore(tmp_path / "victim")
        with pytest.raises(ImageError, match=f"blob {layer[:19]}: digest mismatch: expected {layer}"):
            pull(other, ref)
        assert snapshot(other.root) == {}
    finally:
        data_file.write_bytes(original)


def test_cncf_wasm_artifact_is_accepted_on_pull(
    registry: RegistryServer, hello: Path, tmp_path: Path
) -> None:
    repo = unique("cncf")
    reg = Registry(registry.host)
    module = hello.read_bytes()
    config = canonical({"architecture": "wasm", "os": "wasip1", "layerDigests": [digest_of(module)]})
    for blob in (module, config):
        reg.upload_blob(repo, digest_of(blob), blob)
    manifest = manifest_bytes(
        Descriptor.for_bytes(mt.CNCF_WASM_CONFIG, config), [Descriptor.for_bytes(mt.CNCF_WASM_LAYER, module)]
    )
    reg.put_manifest(repo, "v1", manifest, mt.OCI_MANIFEST)
    store = ImageStore(tmp_path / "s")
    result = pull(store, f"{registry.host}/{repo}:v1")
    assert result.digest == digest_of(manifest)
    image = store.image(f"{registry.host}/{repo}:v1")
    assert image.config["args"] == [] and image.config["architecture"] == "wasm"
    assert image.layer_path.read_bytes() == module


# --- auth ------------------------------------------------------------------------------------------


def test_basic_auth_401_then_login_then_push_and_pull(
    basic_registry: RegistryServer, cli: Callable[..., object], hello: Path, store_root: Path
) -> None:
    host = basic_registry.host
    ref = f"{host}/{unique('private')}:1"
    assert cli("image", "build", "-t", ref, hello).code == 0
    before = snapshot(store_root)
    denied = cli("image", "push", ref)
    assert denied.code == 1
    repo = ref.split("/")[1].split(":")[0]
    config = ImageStore(store_root).image(ref).manifest.config.digest  # the first blob pushed
    assert denied.err.splitlines() == [
        f"ocre: error: {host}: HEAD blob {repo}@{config[:19]}: 401 unauthorized",
        f"ocre: hint: ocre login {host}",
    ]
    assert snapshot(store_root) == before
    wrong = cli("login", host, "-u", USER, "-p", "wrong")
    assert wrong.code == 1 and "401 unauthorized" in wrong.err
    auth_file = Path(str(store_root)).parent / "auth.json"
    assert not auth_file.exists()
    ok = cli("login", host, "-u", USER, "-p", PASSWORD)
    assert ok.code == 0, ok.err
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    assert cli("image", "push", ref).code == 0
    assert cli("image", "rm", ref).code == 0
    assert ImageStore(store_root).images() == []
    pulled = cli("image", "pull", ref)
    assert pulled.code == 0, pulled.err
    assert pulled.out == f"{ref}\n"
    assert cli("logout", host).code == 0
    assert json.loads(auth_file.read_text()) == {"auths": {}}


def test_bearer_token_auth(token_registry, hello: Path, tmp_path: Path) -> None:
    server, tokens = token_registry
    repo = unique("tok")
    ref = f"{server.host}/{repo}:1"
    store = ImageStore(tmp_path / "s")
    build_from_file(store, ref, hello)
    anonymous = Registry(server.host)
    with pytest.raises(RegistryError, match="401 unauthorized"):
        push(store, ref, registry=anonymous)
    assert any(r.get("authed") == "False" and repo in r.get("scope", "") for r in tokens.requests)
    authed = Registry(server.host, credentials=(USER, PASSWORD))
    push(store, ref, registry=authed)
    # The registry's challenge lists the actions in no fixed order ("pull,push" or "push,pull").
    push_tokens = [
        r for r in tokens.requests
        if r.get("authed") == "True" and r.get("service") == "ocre-test-registry"
        and r.get("scope", "").startswith(f"repository:{repo}:")
        and set(r["scope"].rsplit(":", 1)[1].split(",")) == {"pull", "push"}
    ]  # fmt: skip
    assert push_tokens, tokens.requests
    other = ImageStore(tmp_path / "o")
    pull(other, ref, registry=Registry(server.host, credentials=(USER, PASSWORD)))
    assert other.image(ref).layer_path.read_bytes() == hello.read_bytes()


# --- servers that fail -----------------------------------------------------------------------------


class _Unavailable(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}'
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_server_error_is_one_line(cli: Callable[..., object], hello: Path, store_root: Path) -> None:
    cli("image", "build", "-t", "seed:1", hello)
    before = snapshot(store_root)
    with http_server(_Unavailable) as host:
        result = cli("image", "pull", f"{host}/hello:1")
    assert result.code == 1
    assert result.err.splitlines() == [
        f"ocre: error: {host}: GET manifest hello:1: HTTP 503: UNAVAILABLE maintenance"
    ]
    assert snapshot(store_root) == before


def test_unreachable_registry(cli: Callable[..., object]) -> None:
    host = f"127.0.0.1:{free_port()}"
    result = cli("image", "pull", f"{host}/hello:1")
    assert result.code == 1
    assert result.err.splitlines()[0].startswith(f"ocre: error: cannot reach registry {host}: ")


def test_upstream_style_pull_of_a_raw_wasm_url(
    cli: Callable[..., object], hello: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "hello.wasm").write_bytes(hello.read_bytes())

    class Files(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Files) as host:
        result = cli("image", "pull", f"http://{host}/hello.wasm")
        missing = cli("image", "pull", f"http://{host}/nope.wasm")
    assert result.code == 0, result.err
    assert result.out == "hello.wasm:latest\n"
    digest = ImageStore().resolve("hello.wasm")
    assert result.err == f"Digest: {digest.split(':')[1]}\n"
    assert missing.code == 1 and missing.err.splitlines() == [
        f"ocre: error: GET http://{host}/nope.wasm: HTTP 404"
    ]
    from ocre_py.image import resolve_runnable

    assert resolve_runnable("hello.wasm").name == "hello.wasm"
    assert resolve_runnable("hello.wasm").wasm_path.read_bytes() == hello.read_bytes()


def test_bearer_login_with_wrong_and_right_password(
    token_registry,
    cli: Callable[..., object],
    hello: Path,
    store_root: Path,
) -> None:
    server, tokens = token_registry
    wrong = cli("login", server.host, "-u", USER, "-p", "nope")
    assert wrong.code == 1
    assert (
        wrong.err.splitlines()[0]
        == f"ocre: error: {server.host}: GET token from {tokens.realm}: 401 unauthorized"
    )
    assert not (store_root.parent / "auth.json").exists()
    assert cli("login", server.host, "-u", USER, "-p", PASSWORD).code == 0
    ref = f"{server.host}/{unique('viacli')}:1"
    assert cli("image", "build", "-t", ref, hello).code == 0
    assert cli("image", "push", ref).code == 0
    assert cli("image", "rm", ref).code == 0
    assert cli("image", "pull", ref).code == 0
    assert ImageStore(store_root).image(ref).layer_path.read_bytes() == hello.read_bytes()


def test_pulled_image_with_a_non_wasm_layer_is_refused(registry: RegistryServer, tmp_path: Path) -> None:
    repo = unique("notwasm")
    reg = Registry(registry.host)
    layer, config = b"#!/bin/sh\necho hi\n", canonical({"args": []})
    for blob in (layer, config):
        reg.upload_blob(repo, digest_of(blob), blob)
    manifest = manifest_bytes(
        Descriptor.for_bytes(mt.OCRE_CONFIG, config), [Descriptor.for_bytes(mt.OCRE_LAYER_WASM, layer)]
    )
    reg.put_manifest(repo, "1", manifest, mt.OCI_MANIFEST)
    store = ImageStore(tmp_path / "s")
    with pytest.raises(ImageError, match=r"layer: not a wasm module \(no \\0asm magic\)"):
        pull(store, f"{registry.host}/{repo}:1")
    assert snapshot(store.root) == {}


def test_pull_through_an_image_index(
    registry: RegistryServer, store: ImageStore, hello: Path, tmp_path: Path
) -> None:
    repo = unique("multi")
    ref = f"{registry.host}/{repo}:1"
    built = build_from_file(store, ref, hello)
    push(store, ref)
    manifest = store.read_blob(built.digest)
    index = canonical(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": mt.OCI_MANIFEST,
                    "digest": built.digest,
                    "size": len(manifest),
                    "platform": {"architecture": "wasm", "os": "wasip1"},
                }
            ],
        }
    )
    Registry(registry.host).put_manifest(repo, "multi", index, mt.OCI_INDEX)
    other = ImageStore(tmp_path / "o")
    assert pull(other, f"{registry.host}/{repo}:multi").digest == built.digest
    assert other.image(f"{registry.host}/{repo}:multi").layer_path.read_bytes() == hello.read_bytes()
