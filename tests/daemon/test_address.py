"""Daemon addresses: parsing, precedence, and Unix socket paths longer than the kernel's limit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ocre_py.daemon import Address, DaemonClient, parse, resolve, run
from ocre_py.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unix:///run/ocre/ocre.sock", Address("unix", path=Path("/run/ocre/ocre.sock"))),
        ("tcp://127.0.0.1:2375", Address("tcp", host="127.0.0.1", port=2375)),
        ("tcp://[::1]:2375/", Address("tcp", host="::1", port=2375)),
        ("tcp://edge-17:0", Address("tcp", host="edge-17", port=0)),
    ],
)
def test_parse(text: str, expected: Address) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text", ["", "ocre.sock", "unix://", "tcp://host", "tcp://:80", "tcp://h:99999", "http://h:1"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match="daemon address"):
        parse(text)


def test_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert resolve(None, tmp_path) == (Address("unix", path=tmp_path / "ocre.sock"), "default socket")
    monkeypatch.setenv("OCRE_HOST", "tcp://a:1")
    assert resolve(None, tmp_path) == (Address("tcp", host="a", port=1), "$OCRE_HOST")
    assert resolve("tcp://b:2", tmp_path) == (Address("tcp", host="b", port=2), "-H")
    monkeypatch.setenv("OCRE_HOST", "bogus")
    with pytest.raises(InvalidInput, match=r"^\$OCRE_HOST: daemon address 'bogus'"):
        resolve(None, tmp_path)


def test_socket_path_beyond_sun_path_limit(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    sock = deep / "ocre.sock"
    assert len(str(sock)) > 108
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=run,
        args=(tmp_path / "wd", [Address("unix", path=sock)], stop),
        kwargs={"ready": lambda d, s: ready.set()},
        daemon=True,
    )
    thread.start()
    try:
        assert ready.wait(20)
        assert sock.is_socket() and sock.stat().st_mode & 0o777 == 0o600
        assert DaemonClient.connect(f"unix://{sock}").version()["api"] == "v1"
    finally:
        stop.set()
        thread.join(20)
    assert not sock.exists()
