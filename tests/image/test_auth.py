"""Issue 13, item 6: registry auth against the real docker-registry (token and htpasswd auth).

An expired bearer token is fetched again once; credentials never go to a plain-HTTP token realm on
another host; ``docker login``'s ``~/.docker/config.json`` (``auths``, ``credHelpers``,
``credsStore``) is read.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.errors import RegistryError
from ocre_py.image import ImageStore, build_from_file, pull, push
from ocre_py.image.auth import credentials_for
from ocre_py.image.registry import Registry
from tests.image.conftest import PASSWORD, USER, RegistryServer

_counter = iter(range(10_000))


def _repo(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_counter)}"


def test_an_expired_token_is_fetched_again(token_registry, hello: Path, tmp_path: Path) -> None:
    server, tokens = token_registry
    ref = f"{server.host}/{_repo('expiry')}:1"
    store = ImageStore(tmp_path / "s")
    build_from_file(store, ref, hello)
    reg = Registry(server.host, credentials=(USER, PASSWORD))
    push(store, ref, registry=reg)  # the session now holds tokens for this repository
    tokens.expire_next = 1_000  # every token the session holds is now stale ...
    reg._tokens = {scope: tokens.token(scope, True) for scope in reg._tokens}
    tokens.expire_next = 0  # ... and the token server hands out good ones again
    before = len(tokens.requests)
    other = ImageStore(tmp_path / "o")
    pull(other, ref, registry=reg)  # was: 401 unauthorized, the stale token never replaced
    assert other.image(ref).layer_path.read_bytes() == hello.read_bytes()
    assert len(tokens.requests) > before  # a fresh token was asked for


def test_a_token_that_keeps_failing_is_asked_for_once_per_request(token_registry, tmp_path: Path) -> None:
    server, tokens = token_registry
    tokens.expire_next = 1_000  # the token server only hands out expired tokens
    try:
        before = len(tokens.requests)
        with pytest.raises(RegistryError, match="401 unauthorized"):
            Registry(server.host, credentials=(USER, PASSWORD)).get_manifest(
                _repo("stale"), "1", "application/vnd.oci.image.manifest.v1+json"
            )
        assert len(tokens.requests) - before == 1  # no loop
    finally:
        tokens.expire_next = 0


def test_no_credentials_to_a_plain_http_realm_on_another_host(
    far_realm_registry, hello: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, tokens = far_realm_registry  # registry 127.0.0.1, realm http://localhost:PORT/token
    ref = f"{server.host}/{_repo('far')}:1"
    store = ImageStore(tmp_path / "s")
    build_from_file(store, ref, hello)
    with caplog.at_level(logging.WARNING), pytest.raises(RegistryError, match="401 unauthorized"):
        push(store, ref, registry=Registry(server.host, credentials=(USER, PASSWORD)))
    assert tokens.requests and all(r["authed"] == "False" for r in tokens.requests)
    assert "not sending credentials to token realm http://localhost:" in caplog.text


def _docker_config(doc: dict[str, object]) -> Path:
    path = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, script: str) -> None:
    """A real ``docker-credential-NAME`` program on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / f"docker-credential-{name}"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_docker_login_credentials_are_used(
    basic_registry: RegistryServer,
    cli: Callable[..., object],
    hello: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = basic_registry.host
    ref = f"{host}/{_repo('docker')}:1"
    assert cli("image", "build", "-t", ref, hello).code == 0
    assert cli("image", "push", ref).code == 1  # no credentials anywhere: 401
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    _docker_config({"auths": {f"http://{host}": {"auth": token}}})  # docker login's own shape
    pushed = cli("image", "push", ref)
    assert pushed.code == 0, pushed.err


def test_docker_credential_helpers(basic_registry: RegistryServer, tmp_path: Path, monkeypatch) -> None:
    host = basic_registry.host
    answer = json.dumps({"ServerURL": host, "Username": USER, "Secret": PASSWORD})
    _helper(tmp_path, monkeypatch, "ocretest", f'read h; [ "$h" = "{host}" ] && echo \'{answer}\' && exit 0\n'
            "echo 'credentials not found in native keychain'; exit 1\n")  # fmt: skip
    _docker_config({"credHelpers": {host: "ocretest"}})
    assert credentials_for(host) == (USER, PASSWORD)
    Registry(host, credentials=credentials_for(host)).ping()  # the real registry accepts them
    _docker_config({"auths": {host: {}}, "credsStore": "ocretest"})
    assert credentials_for(host) == (USER, PASSWORD)
    assert credentials_for("elsewhere.example:5000") is None  # "not found" is no credentials
    _helper(tmp_path, monkeypatch, "broken", "echo 'keychain locked' >&2; exit 3\n")
    _docker_config({"credsStore": "broken"})
    with pytest.raises(RegistryError, match=f"docker-credential-broken get {host}: keychain locked"):
        credentials_for(host)
    _docker_config({"credsStore": "not-installed"})
    assert credentials_for(host) is None
