"""Hostile clients and faults against the daemon (issue 13): framing, numbers, socket paths.

Every test talks to a real daemon server over a real socket (raw bytes where the point is what a
well-behaved client would never send) and checks the answer and that the daemon keeps serving.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fuzz._seeds import runnable_module
from ocre_py.daemon import Address, Daemon, DaemonClient
from ocre_py.daemon.address import connect_unix
from ocre_py.daemon.server import Server
from ocre_py.errors import DaemonError


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Daemon, Path]]:
    """An in-process daemon serving ``<wd>/ocre.sock``, with one runnable image ``hello``."""
    wd = tmp_path / "wd"
    daemon = Daemon(wd)
    (wd / "images" / "hello").write_bytes(runnable_module())
    server = Server(daemon, [Address("unix", path=wd / "ocre.sock")])
    server.start()
    try:
        yield daemon, wd / "ocre.sock"
    finally:
        server.close()
        daemon.close()


def _raw(sock_path: Path, request: bytes, *, drain: bool = False) -> tuple[int, dict[str, Any], bytes]:
    """Send ``request`` as is; return the status and the JSON body, and with ``drain`` what followed
    until the daemon closed (``<still open>`` when it did not within 5 s)."""
    with connect_unix(sock_path, 10.0) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed without a reply: {data!r}")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:"))[15:])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, after = rest[:length], rest[length:]
        if not drain:
            return int(head.split()[1]), json.loads(body), after
        sock.settimeout(5.0)
        try:
            while chunk := sock.recv(65536):  # the daemon must close: it reads nothing more
                after += chunk
        except TimeoutError:
            after += b"<still open>"
        return int(head.split()[1]), json.loads(body), after


def _note(record: dict[str, Any], attack: str, case: str, result: str) -> None:
    """Add one case to a row of ``fuzz/results/clients.json`` (written with OCRE_RECORD_RELIABILITY)."""
    row = record.setdefault(attack, {"cases": {}})
    row["cases"][case] = result
    row["outcome"] = "; ".join(f"{c} → {r}" for c, r in sorted(row["cases"].items()))


# --- item 7: -H unix://FILE never deletes an ordinary file -----------------------------------------


def test_a_unix_address_on_an_ordinary_file_is_refused_and_the_file_kept(
    tmp_path: Path, record_clients: dict[str, Any]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me\n")
    daemon = Daemon(tmp_path / "wd")
    try:
        with pytest.raises(DaemonError) as err:
            Server(daemon, [Address("unix", path=notes)])
        assert str(notes) in err.value.message and "not a socket" in err.value.message
        assert "\n" not in err.value.message
        assert notes.read_text() == "keep me\n"
        record_clients["`ocre daemon -H unix://notes.txt` (an ordinary file)"] = {
            "outcome": "refused in one line naming the path; the file is untouched"
        }
    finally:
        daemon.close()


def test_a_stale_socket_is_still_replaced(tmp_path: Path) -> None:
    stale = tmp_path / "ocre.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()  # bound, never listening: what a killed daemon leaves
    daemon = Daemon(tmp_path / "wd")
    server = Server(daemon, [Address("unix", path=stale)])
    try:
        server.start()
        assert DaemonClient(Address("unix", path=stale)).version()["api"] == "v1"
    finally:
        server.close()
        daemon.close()


# --- item 8: Content-Length ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "status"),
    [("-1", 400), ("abc", 400), ("+5", 400), ("1_0", 400), ("0x10", 400), ("5, 7", 400), (None, 411)],
    ids=["negative", "letters", "plus", "underscore", "hex", "list", "missing"],
)
def test_bad_content_length_is_answered_and_nothing_more_is_read(
    served: tuple[Daemon, Path], length: str | None, status: int, record_clients: dict[str, Any]
) -> None:
    daemon, sock = served
    body = json.dumps({"image": "hello", "name": "smuggled"}).encode()
    header = f"Content-Length: {length}\r\n" if length is not None else ""
    # A second request rides in the "body": if the daemon read past the headers it would run it.
    follow = b"DELETE /v1/images/hello?force=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    request = f"POST /v1/containers HTTP/1.1\r\nHost: x\r\n{header}\r\n".encode() + body + follow
    got, reply, after = _raw(sock, request, drain=True)
    assert got == status, reply
    assert "\n" not in reply["error"]["message"]
    assert "Content-Length" in reply["error"]["message"]
    assert after == b"", "the daemon must close the connection, not read on"
    assert daemon.containers() == [] and (daemon.images_dir / "hello").is_file()
    assert DaemonClient(Address("unix", path=sock)).version()["api"] == "v1"  # still serving
    _note(
        record_clients,
        "Bad `Content-Length` with a smuggled second request",
        "missing" if length is None else repr(length),
        f"{got}, closed",
    )


def test_an_oversized_body_is_refused_unread(served: tuple[Daemon, Path]) -> None:
    _, sock = served
    request = b"POST /v1/containers HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n{"
    got, reply, after = _raw(sock, request, drain=True)
    assert got == 400 and "request body size" in reply["error"]["message"] and after == b""


def test_a_body_route_without_a_body_length_is_411_and_actions_need_none(
    served: tuple[Daemon, Path],
) -> None:
    daemon, sock = served
    daemon.create({"image": "hello", "name": "c1"})
    got, reply, _ = _raw(sock, b"POST /v1/containers/c1/start HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got == 200 and reply == {"id": "c1", "status": "RUNNING"}  # like `curl -X POST`


# --- item 9: inf and NaN -------------------------------------------------------------------------


def _create_with(field: str, text: str) -> bytes:
    body = f'{{"image": "hello", "name": "n1", "{field}": {text}}}'.encode()
    return b"POST /v1/containers HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body


_CREATE_NUMBERS = [
    ("memory_limit", "1e999"),
    ("memory_limit", "NaN"),
    ("memory_limit", "-Infinity"),
    ("memory_limit", "8589934592"),
    ("timeout", "NaN"),
    ("timeout", "1e999"),
    ("timeout", "Infinity"),
    ("timeout", "1e300"),
    ("cpu_budget", "NaN"),
    ("cpu_budget", "1e999"),
]
_QUERY_NUMBERS = [
    ("POST", "q1/wait?timeout=nan", "timeout"),
    ("POST", "q1/wait?timeout=inf", "timeout"),
    ("POST", "q1/wait?timeout=-1", "timeout"),
    ("POST", "q1/stop?time=nan", "time"),
    ("POST", "q1/restart?time=1e999", "time"),
    ("GET", "q1/logs?tail=nan", "tail"),
    ("GET", "q1/logs?tail=inf", "tail"),
    ("GET", "q1/logs?tail=1e999", "tail"),
]
NUMBER_CASES = [
    pytest.param("inf/NaN/huge numbers in a create request", _create_with(f, t), f, id=f"{f}: {t}")
    for f, t in _CREATE_NUMBERS
] + [
    pytest.param(
        "inf/NaN/negative numbers in query strings",
        f"{method} /v1/containers/{target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        field,
        id=target.removeprefix("q1/"),
    )
    for method, target, field in _QUERY_NUMBERS
]


@pytest.mark.parametrize(("attack", "request_bytes", "field"), NUMBER_CASES)
def test_non_finite_or_out_of_range_numbers_are_400_naming_the_field(
    served: tuple[Daemon, Path],
    attack: str,
    request_bytes: bytes,
    field: str,
    record_clients: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    daemon, sock = served
    daemon.create({"image": "hello", "name": "q1"})
    got, reply, _ = _raw(sock, request_bytes)
    assert got == 400, reply
    message = reply["error"]["message"]
    assert message.startswith(f"{field} ") and "finite number" in message and "\n" not in message
    assert [c["id"] for c in daemon.containers()] == ["q1"]  # nothing was created
    _note(record_clients, attack, request.node.callspec.id, str(got))


def test_a_sane_timeout_still_works(served: tuple[Daemon, Path]) -> None:
    _, sock = served
    client = DaemonClient(Address("unix", path=sock))
    made = client.create({"image": "hello", "name": "ok1", "timeout": 30, "memory_limit": 2**20}, start=True)
    assert made["id"] == "ok1"
    assert client.action("ok1", "wait", timeout=30)["exit_code"] == 0


# --- item 13: many clients at once ----------------------------------------------------------------


def test_two_hundred_simultaneous_clients_all_get_through(
    served: tuple[Daemon, Path], record_clients: dict[str, Any]
) -> None:
    _, sock = served
    barrier = threading.Barrier(200)
    failures: list[str] = []

    def one() -> None:
        client = DaemonClient(Address("unix", path=sock))
        barrier.wait()
        try:
            client.containers()
        except DaemonError as exc:
            failures.append(exc.message)
        finally:
            client.close()

    threads = [threading.Thread(target=one) for _ in range(200)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    took = time.monotonic() - started
    assert not failures, f"{len(failures)} of 200 failed, e.g. {failures[0]}"
    record_clients["200 simultaneous clients on the Unix socket"] = {
        "outcome": f"200 of 200 served in {took:.2f} s (before: 39–67 of 200 failed with EAGAIN)"
    }


def test_a_full_listen_queue_fails_after_the_retry_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "busy.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(0)  # never accepted: the queue is full after the first connection or two
    held = []
    try:
        for _ in range(8):
            try:
                held.append(connect_unix(path, 0.5))
            except BlockingIOError:
                break
        client = DaemonClient(Address("unix", path=path), connect_retry=0.3)
        with pytest.raises(DaemonError) as err:
            client.version()
        assert "listen queue stayed full" in err.value.message and "\n" not in err.value.message
    finally:
        for s in held:
            s.close()
        listener.close()


def test_a_daemon_that_starts_listening_late_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "late.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))  # the file exists; connect is refused until listen()
    answered = threading.Event()

    def serve_later() -> None:
        time.sleep(0.2)
        listener.listen(8)
        conn, _ = listener.accept()
        conn.recv(65536)
        body = b'{"api": "v1"}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        answered.set()
        conn.close()

    t = threading.Thread(target=serve_later, daemon=True)
    t.start()
    try:
        assert DaemonClient(Address("unix", path=path), connect_retry=30).version() == {"api": "v1"}
        assert answered.wait(5)  # the server sets it just after sending: the reply may be read first
    finally:
        t.join(10)
        listener.close()


# --- item 3: per-request time -------------------------------------------------------------------


def _closed_by_daemon(sock: socket.socket) -> bytes:
    """Everything the daemon sends until it closes (bounded by the socket timeout)."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def test_a_silent_or_dribbling_connection_is_cut_at_its_deadline(
    served: tuple[Daemon, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocre_py.daemon import connections

    _, path = served
    monkeypatch.setattr(connections, "HEADER_TIMEOUT", 0.3)
    monkeypatch.setattr(connections, "BODY_TIMEOUT", 0.3)
    with connect_unix(path, 30.0) as silent, connect_unix(path, 30.0) as dribbler:
        silent.sendall(b"GET /v1/version HTTP/1.1\r\n")  # one header line, then nothing
        dribbler.sendall(b"POST /v1/messages HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        assert _closed_by_daemon(silent) == b""
        assert _closed_by_daemon(dribbler) == b""  # cut, not left waiting for 99 more bytes
    assert DaemonClient(Address("unix", path=path)).version()["api"] == "v1"
