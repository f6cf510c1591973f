"""Fixtures of the image tests: real docker-registry servers on loopback, and store snapshots.

Each registry runs from Debian's ``docker-registry`` with its storage in a session tmp dir on a free
port, and is stopped at the end of the session. One is open, one demands htpasswd basic auth (a
real 401 path), one demands bearer tokens from a small token server run here in-process.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import CliResult, require_program
from tests.ports import free_port

USER, PASSWORD = "alice", "s3cret-pw"


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A small loopback HTTP server (a thread) for registries that misbehave; yields ``HOST:PORT``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class RegistryServer:
    host: str  # 127.0.0.1:PORT
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def repo_files(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())


def _bcrypt_line(user: str, password: str) -> str:
    """An htpasswd line with a bcrypt hash (the only kind docker-registry accepts).

    Python ≤ 3.12's ``crypt`` does it through glibc's libxcrypt; otherwise apache2-utils' htpasswd.
    """
    hashed = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    except (ImportError, AttributeError):
        pass
    if hashed and hashed.startswith("$2"):
        return f"{user}:{hashed}"
    htpasswd = require_program("htpasswd")
    return subprocess.run(
        [htpasswd, "-nbB", user, password], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.contextmanager
def run_registry(workdir: Path, auth_yaml: str = "") -> Iterator[RegistryServer]:
    exe = require_program("docker-registry")
    port = free_port()
    data = workdir / "data"
    data.mkdir(parents=True)
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: info}\n"
        f"storage:\n  filesystem: {{rootdirectory: {data}}}\n  delete: {{enabled: true}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: ocre-tests}}\n" + auth_yaml
    )
    log = workdir / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    server = RegistryServer(f"127.0.0.1:{port}", data, log, proc)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{server.url}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401 from an auth-enabled registry: it is up
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not start: {log.read_text()[-2000:]}")
                time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An open docker-registry on loopback."""
    with run_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A docker-registry that demands htpasswd (bcrypt) basic auth for ``USER``/``PASSWORD``."""
    work = tmp_path_factory.mktemp("registry-basic")
    htpasswd = work / "htpasswd"
    htpasswd.write_text(_bcrypt_line(USER, PASSWORD) + "\n")
    auth = f"auth:\n  htpasswd: {{realm: ocre-tests, path: {htpasswd}}}\n"
    with run_registry(work, auth) as server:
        yield server


def _working_command_modules() -> tuple[str, ...]:
    """The CLI modules that import and register: other rooms may be mid-edit in a shared tree."""
    import argparse

    from ocre_py.cli import main as cli_main

    ok = []
    for name in cli_main.COMMAND_MODULES:
        try:
            importlib.import_module(name).register(argparse.ArgumentParser().add_subparsers())
        except Exception:
            continue
        ok.append(name)
    return tuple(ok)


@pytest.fixture
def cli(ocre_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """``ocre ARGS`` in-process through the real ``main()``, with only the command modules that load."""
    from ocre_py.cli import main as cli_main

    monkeypatch.setattr(cli_main, "COMMAND_MODULES", _working_command_modules())
    assert "ocre_py.cli.image" in cli_main.COMMAND_MODULES
    return ocre_cli


@pytest.fixture
def store_root() -> Path:
    return Path(os.environ["OCRE_HOME"]) / "store"


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its sha256: compare before/after to prove a store unchanged."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def hello(examples: dict[str, Path]) -> Path:
    return examples["hello"]


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryServer, object]]:
    """A docker-registry that demands bearer tokens from an in-process token server."""
    from tests.image.token_server import TokenServer

    work = tmp_path_factory.mktemp("registry-token")
    with TokenServer(work, USER, PASSWORD) as tokens, run_registry(work, tokens.auth_yaml()) as server:
        yield server, tokens


@pytest.fixture(scope="session")
def far_realm_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryServer, object]]:
    """A token registry at 127.0.0.1 whose plain-HTTP realm names another host (``localhost``)."""
    from tests.image.token_server import TokenServer

    work = tmp_path_factory.mktemp("registry-far-realm")
    with (
        TokenServer(work, USER, PASSWORD, realm_host="localhost") as tokens,
        run_registry(work, tokens.auth_yaml()) as server,
    ):
        yield server, tokens
