"""TLS on the TCP listener (issue 13.4): TLS works, plain HTTP is told so, mutual TLS needs a cert.

Certificates are made with ``cryptography`` for each test session: a CA, a server certificate for
127.0.0.1 signed by it, and a client certificate signed by it (plus one from a stranger CA).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocre_py.daemon import Address, Daemon, DaemonClient, parse
from ocre_py.daemon.server import Server
from ocre_py.daemon.tls import TlsFiles, resolve_client, server_context
from ocre_py.errors import DaemonError, InvalidInput
from tests.hardening.conftest import CLIENTS_RESULTS, _recorder
from tests.pki import Pki, make_pki
from tests.ports import free_port

from .conftest import DaemonProcess


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def record_clients() -> Iterator[dict[str, Any]]:
    """Rows of ``fuzz/results/clients.json`` (written with OCRE_RECORD_RELIABILITY=1)."""
    yield from _recorder(CLIENTS_RESULTS)


@pytest.fixture
def tls_daemon(tmp_path: Path, pki: Pki, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """An in-process daemon on TLS TCP (mutual when the test is marked ``mutual``): (address, token)."""
    mutual = request.node.get_closest_marker("mutual") is not None
    ctx = server_context(pki.server_cert, pki.server_key, pki.ca if mutual else None)
    daemon = Daemon(tmp_path / "wd")
    server = Server(daemon, [Address("tcp", host="127.0.0.1", port=0)], tls=ctx)
    server.start()
    try:
        yield server.addresses[0], server.token or ""
    finally:
        server.close()
        daemon.close()


def test_tls_works_and_the_token_is_still_required(tls_daemon: tuple[str, str], pki: Pki) -> None:
    address, token = tls_daemon
    files = TlsFiles(ca=pki.ca)
    assert DaemonClient(parse(address), token=token, tls=files).containers() == []
    with pytest.raises(DaemonError, match="missing or wrong bearer token"):
        DaemonClient(parse(address), token="wrong", tls=files).containers()


def test_a_plain_client_against_a_tls_daemon_is_told_to_use_tls(
    tls_daemon: tuple[str, str], record_clients: dict[str, Any]
) -> None:
    address, token = tls_daemon
    with pytest.raises(DaemonError) as err:
        DaemonClient(parse(address), token=token).containers()
    assert "speaks TLS" in err.value.message and "--tls" in (err.value.hint or "")
    assert "\n" not in err.value.message
    record_clients["Plain-HTTP client against the TLS listener"] = {
        "outcome": "refused: 'speaks TLS; this request was plain HTTP' (hint: --tls / $OCRE_TLS_VERIFY)"
    }


def test_a_daemon_certificate_from_an_unknown_ca_is_refused(tls_daemon: tuple[str, str], pki: Pki) -> None:
    address, token = tls_daemon
    with pytest.raises(
        DaemonError, match=r"TLS with the Ocre daemon at .* failed: CERTIFICATE_VERIFY_FAILED"
    ):
        DaemonClient(parse(address), token=token, tls=TlsFiles(ca=pki.stranger_cert)).containers()


@pytest.mark.mutual
def test_mutual_tls_needs_a_client_certificate_from_the_ca(
    tls_daemon: tuple[str, str], pki: Pki, record_clients: dict[str, Any]
) -> None:
    address, token = tls_daemon
    with pytest.raises(DaemonError, match=r"failed: the daemon requires a client certificate"):
        DaemonClient(parse(address), token=token, tls=TlsFiles(ca=pki.ca)).containers()
    stranger = TlsFiles(ca=pki.ca, cert=pki.stranger_cert, key=pki.stranger_key)
    with pytest.raises(DaemonError, match=r"TLS with the Ocre daemon at .* failed"):
        DaemonClient(parse(address), token=token, tls=stranger).containers()
    good = TlsFiles(ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    assert DaemonClient(parse(address), token=token, tls=good).version()["api"] == "v1"
    record_clients["Mutual TLS: no client certificate / one from another CA"] = {
        "outcome": "both refused in the handshake ('the daemon requires a client certificate' / "
        "'refused the client certificate'); the CA's client certificate is served"
    }


def test_client_tls_settings_come_from_flags_then_environment(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OCRE_TLS_VERIFY", raising=False)
    monkeypatch.delenv("OCRE_CERT_PATH", raising=False)
    assert resolve_client() is None
    assert resolve_client(tls=True) == TlsFiles(origin="--tls")
    monkeypatch.setenv("OCRE_TLS_VERIFY", "1")
    assert resolve_client() == TlsFiles(origin="$OCRE_TLS_VERIFY")
    monkeypatch.setenv("OCRE_CERT_PATH", str(pki.ca.parent))  # holds ca.pem, cert.pem, key.pem
    got = resolve_client()
    assert got is not None and (got.ca, got.cert, got.key) == (pki.ca, pki.client_cert, pki.client_key)
    assert resolve_client(ca=str(pki.stranger_cert)).ca == pki.stranger_cert  # a flag wins
    with pytest.raises(InvalidInput, match="--tls-ca"):
        resolve_client(ca=str(tmp_path / "missing.pem"))
    monkeypatch.delenv("OCRE_CERT_PATH")
    with pytest.raises(InvalidInput, match="--tls-key"):
        resolve_client(cert=str(pki.client_cert))


def test_server_tls_options_are_checked(pki: Pki, tmp_path: Path) -> None:
    assert server_context(None, None, None) is None
    with pytest.raises(InvalidInput, match="--tls-key"):
        server_context(pki.server_cert, None, None)
    with pytest.raises(InvalidInput, match=r"--tls-key .*private key"):
        server_context(pki.server_cert, pki.client_key, None)  # not the certificate's key
    daemon = Daemon(tmp_path / "wd")
    try:
        with pytest.raises(InvalidInput, match="tcp:// listener"):
            Server(
                daemon,
                [Address("unix", path=tmp_path / "s.sock")],
                tls=server_context(pki.server_cert, pki.server_key, None),
            )
    finally:
        daemon.close()


def test_ocre_daemon_mutual_tls_end_to_end_with_cli_flags_and_env(
    home: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    tcp = f"tcp://127.0.0.1:{free_port()}"
    extra = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), "--tls-ca", str(pki.ca)]
    proc = DaemonProcess(home, [f"unix://{home / 'ocre.sock'}", tcp], extra=extra)
    try:
        proc.start()  # answers on the Unix socket (no TLS there)
        token = (home / "daemon.token").read_text().strip()
        monkeypatch.setenv("OCRE_TOKEN", token)
        flags = ["--tls-ca", pki.ca, "--tls-cert", pki.client_cert, "--tls-key", pki.client_key]
        r = proc.cli("ps", "-H", tcp, *flags)
        assert r.returncode == 0 and r.stdout.startswith("ID"), r.stderr
        r = proc.cli("ps", "-H", tcp, "--tls-ca", pki.ca)  # no client certificate
        assert r.returncode == 1 and "requires a client certificate" in r.stderr, r.stderr
        r = proc.cli("ps", "-H", tcp)  # plain HTTP
        assert r.returncode == 1 and "speaks TLS" in r.stderr, r.stderr
        monkeypatch.setenv("OCRE_CERT_PATH", str(pki.ca.parent))
        monkeypatch.setenv("OCRE_TLS_VERIFY", "1")
        r = proc.cli("ps", "-H", tcp)
        assert r.returncode == 0, r.stderr
    finally:
        proc.stop()
