"""TCP needs the bearer token: none or a wrong one → 401; the token file is 0600."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from ocre_py.daemon import DaemonClient, parse
from ocre_py.errors import DaemonError
from tests.ports import free_port

from .conftest import DaemonProcess


def _raw(port: int, headers: dict[str, str]) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/v1/containers", headers=headers)
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return resp.status, body


def test_tcp_requires_token(home: Path, monkeypatch: pytest.MonkeyPatch, examples: dict[str, Path]) -> None:
    port = free_port()
    tcp = f"tcp://127.0.0.1:{port}"
    proc = DaemonProcess(home, [f"unix://{home / 'ocre.sock'}", tcp])
    try:
        proc.start()
        token_file = home / "daemon.token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 40

        assert _raw(port, {})[0] == 401
        status, body = _raw(port, {"Authorization": "Bearer wrong"})
        assert status == 401 and body["error"]["message"] == "missing or wrong bearer token"
        assert _raw(port, {"Authorization": f"Basic {token}"})[0] == 401
        assert _raw(port, {"Authorization": f"Bearer {token}"}) == (200, [])

        with pytest.raises(DaemonError, match="refused the request: missing or wrong bearer token"):
            DaemonClient(parse(tcp), token="nope").containers()
        # The CLI over TCP: wrong token → exit 1; the right one (from $OCRE_TOKEN) works.
        r = proc.cli("ps", "-H", tcp, "--token", "nope")
        assert r.returncode == 1 and "missing or wrong bearer token" in r.stderr
        monkeypatch.setenv("OCRE_TOKEN", token)  # proc.cli's children inherit it
        r = proc.cli("container", "run", "-d", "-H", tcp, "-n", "remote", examples["hello"])
        assert r.returncode == 0 and r.stdout == "remote\n", r.stderr
        assert proc.cli("wait", "-H", tcp, "remote").stdout == "0\n"
        # Unix socket clients need no token.
        assert DaemonClient.connect(f"unix://{home / 'ocre.sock'}").inspect("remote")["exit_code"] == 0
    finally:
        proc.stop()
