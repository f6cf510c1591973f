"""The client's own HTTP/1.1 and JSON (issue 14: no http.client, json or urllib at start-up): the
same text as the standard library, replies framed every way HTTP frames them, and bounds."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocre_py.daemon import Address, DaemonClient, wire
from ocre_py.errors import DaemonError, NotFound

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_json_is_the_json_packages(value: object) -> None:
    text = json.dumps(value)
    assert wire.dumps(value) == text.encode()
    assert wire.loads(text.encode()) == json.loads(text)
    assert wire.loads(f" \n{text}\t".encode()) == json.loads(text)


@pytest.mark.parametrize("bad", [b"", b"[1", b'{"a": 1} x', b"nul", b'"\\q"', b"\xff"])
def test_json_errors_are_value_errors(bad: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        wire.loads(bad)


@given(st.text())
def test_quoting_is_urllibs(text: str) -> None:
    try:
        expected = quote(text, safe="")
    except UnicodeEncodeError:  # lone surrogates: both refuse
        with pytest.raises(UnicodeEncodeError):
            wire.quote(text)
        return
    assert wire.quote(text) == expected
    assert wire.query({"a": text, "b": None, "n": 2}) == urlencode({"a": text, "n": 2}).replace("+", "%20")


# ---- replies, framed every way ----------------------------------------------------------------
Reply = Callable[[socket.socket, bytes], None]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Callable[..., DaemonClient]]:
    """``fake(reply, ...)``: a Unix socket whose n-th request gets the n-th reply function
    ``(connection, request bytes)``; returns a client of it. Connections stay open until the
    reply function closes them or the test ends."""
    path = tmp_path / "fake.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(8)
    conns: list[socket.socket] = []

    def start(*replies: Reply, **client_options: object) -> DaemonClient:
        def serve() -> None:
            queue = list(replies)
            while queue:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conns.append(conn)
                while queue:
                    request = _read_request(conn)
                    if request is None:
                        break
                    queue.pop(0)(conn, request)

        threading.Thread(target=serve, daemon=True).start()
        return DaemonClient(Address("unix", path=path), **client_options)  # type: ignore[arg-type]

    yield start
    listener.close()
    for c in conns:
        c.close()


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            while len(body) < int(line[15:]):
                body += conn.recv(65536)
    return data


def send(*parts: bytes, close: bool = False) -> Reply:
    def reply(conn: socket.socket, request: bytes) -> None:
        for part in parts:
            conn.sendall(part)
        if close:
            conn.close()

    return reply


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_content_length_replies_keep_the_connection(fake) -> None:
    seen: list[bytes] = []

    def remember(conn: socket.socket, request: bytes) -> None:
        seen.append(request)
        conn.sendall(ok(b'{"n": %d}' % len(seen)))

    client = fake(remember, remember)
    assert client.version() == {"n": 1}
    assert client.create({"image": "x"}) == {"n": 2}  # the same connection: the server accepts once
    assert seen[0].startswith(b"GET /v1/version HTTP/1.1\r\nHost: localhost\r\n")
    head, _, body = seen[1].partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % len(body) in head and json.loads(body) == {"image": "x", "start": False}


def test_chunked_interim_and_close_framed_replies(fake) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n[1, \r\n2;x=y\r\n2]\r\n0\r\nT: v\r\n\r\n"
    )
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"[3]")
    to_close = b"HTTP/1.0 200 OK\r\n\r\n[4]"
    client = fake(send(chunked), send(interim), send(to_close, close=True), send(ok(b"[5]")))
    assert client.containers() == [1, 2]
    assert client.containers() == [3]
    assert client.containers() == [4]
    assert client.containers() == [5]  # a new connection after the close


def test_a_kept_connection_closed_while_idle_is_retried_once_fresh(fake) -> None:
    client = fake(send(ok(b"[1]")), send(close=True), send(ok(b"[2]")))
    assert client.containers() == [1]
    assert client.containers() == [2]  # the kept one got no reply: the same request on a new one


def test_errors_come_back_as_the_daemons(fake) -> None:
    body = b'{"error": {"type": "NotFound", "message": "no such container: x", "hint": "ps"}}'
    client = fake(send(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)))
    with pytest.raises(NotFound, match="no such container: x") as err:
        client.inspect("x")
    assert err.value.hint == "ps"


def test_a_stream_yields_as_it_comes(fake) -> None:
    def dribble(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfirst ")
        time.sleep(0.05)
        conn.sendall(b"second")
        conn.close()

    assert b"".join(fake(dribble).logs("c1")) == b"first second"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (send(b"SSH-2.0-OpenSSH\r\n\r\n"), "failed: not an HTTP/1.x status line"),
        (send(b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n"), "over 64 KiB"),
        (
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n[1]", close=True),
            "closed the connection: the reply ended early",
        ),
        (send(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), "is not a byte count"),
        (send(b"", close=True), "closed the connection without answering"),
    ],
    ids=["not-http", "huge-headers", "short-body", "bad-length", "no-reply"],
)
def test_broken_replies_are_one_line_errors(fake, reply: Reply, message: str) -> None:
    with pytest.raises(DaemonError, match=message) as err:
        fake(reply, connect_retry=0).containers()
    assert "\n" not in err.value.message


def test_a_body_over_the_bound_is_refused(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_BODY", 1000)
    with pytest.raises(DaemonError, match="a reply over 1000 bytes"):
        fake(send(ok(b"[" + b"0," * 1000 + b"0]"))).containers()


def test_the_timeout_bounds_the_whole_reply(fake) -> None:
    def dribble(conn: socket.socket, request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):  # a byte every 20 ms: each read is quick, the reply is not
            time.sleep(0.02)
            try:
                conn.sendall(b" ")
            except OSError:
                return

    with pytest.raises(DaemonError, match=r"did not answer within 0\.3 s"):
        fake(dribble, timeout=0.3).containers()
