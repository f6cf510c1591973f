"""HTTP listeners for the daemon: the standard library's ThreadingHTTPServer on Unix and TCP sockets.

A Unix socket is created with mode 0600 (0660 with a group) and is guarded by the filesystem; a TCP
listener demands ``Authorization: Bearer <token>`` on every request and answers 401 otherwise.
JSON replies are HTTP/1.1 with a length, so a long-lived client keeps its connection and each call
costs one wake-up of the thread already serving it; streams (``logs -f``, subscriptions) end when
the connection closes, so they are sent with ``Connection: close`` and need no chunked encoding.
TCP listeners serve TLS when given a context (:mod:`.tls`). How many connections each listener
holds, and how long each phase of a request may take, is :mod:`.connections`' business.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import ssl
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ocre_py.daemon import api, auth
from ocre_py.daemon.address import Address, connect_unix, short_path
from ocre_py.daemon.api import Reply
from ocre_py.daemon.connections import IDLE_TIMEOUT, Connection, ConnectionTable, Limits, connection_budget
from ocre_py.daemon.service import Daemon
from ocre_py.errors import DaemonError, InvalidInput

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Listener
    server_version = "ocred"
    timeout = IDLE_TIMEOUT  # per recv; the connection table also bounds each phase as a whole
    _conn: Connection

    def setup(self) -> None:
        conn = self.server.table.lookup(self.request)
        assert conn is not None  # admitted by process_request before this thread started
        self._conn = conn
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self._handshake(self.request)

    def _handshake(self, sock: ssl.SSLSocket) -> None:
        """TLS handshake on this thread (under the header deadline), not on the accepting one."""
        try:
            sock.do_handshake()
        except ssl.SSLError as exc:
            if exc.reason == "HTTP_REQUEST":  # a plain-HTTP client: tell it in words it can read
                reply = _closing_reply(
                    "400 Bad Request",
                    f"the daemon at tcp://{_host_port(self.server)} speaks TLS; this request was plain HTTP",
                    "connect with --tls (and --tls-ca/--tls-cert/--tls-key), or set $OCRE_TLS_VERIFY=1",
                )
                with contextlib.suppress(OSError):
                    socket.socket.send(sock, reply)  # on the raw socket: the peer reads plain text
            log.info("TLS handshake with %s failed: %s", self.client_address[0], exc.reason or exc)
            raise

    def handle_one_request(self) -> None:
        self.server.table.waiting(self._conn)
        super().handle_one_request()

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_GET

    def _handle(self) -> None:
        token = self.server.token
        authorized = token is None or auth.check(self.headers.get("Authorization"), token)
        self.server.table.working(self._conn, authenticated=authorized)
        if not authorized:
            log.warning(
                "refused unauthenticated %s %s from %s", self.command, self.path, self.client_address[0]
            )
            self.close_connection = True  # its slot goes back to the pending class's cap
            self._json(
                401,
                api.error_body(
                    "Unauthorized",
                    "missing or wrong bearer token",
                    "pass --token or set $OCRE_TOKEN (see <workdir>/daemon.token)",
                ),
            )
            return
        framing = _body_length(self.headers.get_all("Content-Length"))
        if isinstance(framing, Reply):  # nothing more is read: the connection is closed after it
            self.close_connection = True
            self._json(framing.status, framing.body)
            return
        self._length = framing
        self._body_read = not framing and not self.headers.get("Transfer-Encoding")
        try:
            self._serve()
        finally:
            if not self._body_read:  # an unread body would be taken for the next request
                self.close_connection = True

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        result = api.dispatch(
            self.server.daemon, self.command, path, query, self._read_body, self._client_gone
        )
        if isinstance(result, api.Stream):
            self._stream(result)
        else:
            self._json(result.status, result.body)

    def _read_body(self, limit: int) -> bytes:
        length = self._length
        if length is None:
            self._body_read = False  # whatever follows is not read: the connection closes after the 411
            raise api.LengthRequired(
                f"{self.command} {self.path.partition('?')[0]} needs a Content-Length header",
                hint="send the body with its length (chunked bodies are not accepted)",
            )
        if length > limit:
            raise InvalidInput.field(None, "request body size", length, f"at most {limit} bytes")
        self._body_read = True
        if not length:
            return b""
        table = self.server.table
        table.reading_body(self._conn, length)
        data = self.rfile.read(length)
        table.body_done(self._conn)
        if len(data) < length:  # cut at its deadline, or the peer hung up
            self.close_connection = True
            raise InvalidInput.field(None, "request body", f"{len(data)} bytes", f"{length} bytes")
        return data

    def _client_gone(self) -> bool:
        """True when the peer closed its end (readable with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, stream: api.Stream) -> None:
        self.send_response(200)
        self.send_header("Content-Type", stream.content_type)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.flush()
        chunks = stream.chunks
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(chunk)
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.client_address[0], format % args)


def _closing_reply(status: str, message: str, hint: str) -> bytes:
    """A whole error reply, sent without a handler (refusals); the connection closes after it."""
    body = json.dumps(api.error_body("DaemonError", message, hint)).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _body_length(values: list[str] | None) -> int | Reply | None:
    """The body length from ``Content-Length`` (None: no header), or the 400 reply when it is unusable.

    Only plain decimal digits count (``int()`` would take ``-1``, ``+5``, `` 7`` and ``1_0``); a body
    the daemon cannot frame is never read, so it cannot be taken for the next request either.
    """
    if not values:
        return None
    text = values[0].strip()
    if len(set(values)) > 1 or not (text.isascii() and text.isdigit()):
        shown = values[0] if len(values) == 1 else ", ".join(values)
        error = InvalidInput.field(None, "Content-Length", shown[:40], "one non-negative integer")
        return Reply(400, api.error_body("InvalidInput", error.message))
    return int(text)


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    # Connections the kernel queues before accept(); the kernel caps it at net.core.somaxconn.
    # 128 made 39 of 200 simultaneous clients fail with EAGAIN (issue 13).
    request_queue_size = max(1024, socket.SOMAXCONN)

    def __init__(self, address: Any, daemon: Daemon, token: str | None, limits: Limits) -> None:
        self.daemon = daemon
        self.token = token
        self.table = ConnectionTable(limits)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.table.admit(request, authenticated=self.token is None) is None:
            self._refuse(request)
            return
        super().process_request(request, client_address)

    def _refuse(self, request: socket.socket) -> None:
        """Answer 503 without a thread (the reply fits any socket buffer) and close."""
        log.warning("refused a connection: %d open, the listener's share is full", len(self.table))
        if not isinstance(request, ssl.SSLSocket):  # a TLS peer cannot read it before a handshake
            reply = _closing_reply(
                "503 Service Unavailable",
                "the daemon is serving as many connections as it may; try again shortly",
                "close idle clients, or raise the daemon's open-files limit (ulimit -n)",
            )
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(reply)
        super().shutdown_request(request)

    def shutdown_request(self, request: Any) -> None:
        self.table.forget(request)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        """Between accepts (at least every poll interval): cut connections past their deadline."""
        self.table.reap()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A peer that vanished mid-request is routine for a server: log it, print nothing."""
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def server_close(self) -> None:
        """Also end kept-alive connections, so no handler outlives the daemon it serves."""
        super().server_close()
        self.table.shut_all()


class _UnixListener(_Listener):
    address_family = socket.AF_UNIX

    def __init__(self, path: Path, daemon: Daemon, mode: int, limits: Limits) -> None:
        self.path, self.mode = path, mode
        self._bound = False  # only a socket this listener bound is unlinked on close
        super().__init__(str(path), daemon, None, limits)

    def server_bind(self) -> None:
        _remove_stale_socket(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o177)  # never world-connectable, not even between bind and chmod
        try:
            with short_path(self.path) as target:
                self.socket.bind(target)
            self._bound = True
        finally:
            os.umask(old)
        os.chmod(self.path, self.mode)
        self.server_address = str(self.path)  # type: ignore[assignment]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, _ = self.socket.accept()
        return sock, ("unix", 0)

    def server_close(self) -> None:
        super().server_close()
        if self._bound:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


class _TcpListener(_Listener):
    allow_reuse_address = True

    def __init__(
        self, host: str, port: int, daemon: Daemon, token: str, limits: Limits, tls: ssl.SSLContext | None
    ) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.tls = tls
        super().__init__((host, port), daemon, token, limits)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.tls is None:
            return sock, address
        # The handshake waits for the handler thread: a slow peer must not hold up accept().
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def _host_port(listener: _Listener) -> str:
    host, port = str(listener.server_address[0]), listener.server_address[1]
    return f"{'[' + host + ']' if ':' in host else host}:{port}"


def _remove_stale_socket(path: Path) -> None:
    """Remove a socket file nobody listens on (left by a killed daemon); refuse a live one.

    Only a socket is ever removed: ``-H unix://notes.txt`` must not delete an ordinary file.
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise DaemonError(
            f"unix://{path}: {path} exists and is not a socket; refusing to replace it",
            hint="pass -H with a path that is free or holds a stale ocre socket",
        )
    try:
        connect_unix(path, 1.0).close()
    except OSError:  # refused, gone, or unreachable: nobody serves it
        path.unlink(missing_ok=True)
        return
    raise DaemonError(
        f"another daemon is already listening on unix://{path}",
        hint="stop it first, or pass -H with another socket",
    )


class Server:
    """The daemon's listeners, each served on its own thread; :meth:`close` stops them all."""

    def __init__(
        self,
        daemon: Daemon,
        addresses: list[Address],
        *,
        socket_mode: int = 0o600,
        socket_group: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if tls is not None and not any(a.is_tcp for a in addresses):
            raise InvalidInput.field(
                None, "--tls-cert", "(given)", "a daemon with a tcp:// listener (-H tcp://HOST:PORT)"
            )
        self.daemon = daemon
        self.tls = tls
        self.listeners: list[_Listener] = []
        self.token: str | None = None
        budget = connection_budget()
        try:
            for addr in addresses:
                limits = Limits.share(budget, len(addresses), tcp=addr.is_tcp)
                if addr.kind == "unix":
                    assert addr.path is not None
                    listener: _Listener = _UnixListener(Path(addr.path), daemon, socket_mode, limits)
                    if socket_group is not None:
                        os.chown(addr.path, -1, socket_group)
                else:
                    if self.token is None:
                        self.token = auth.load_or_create(auth.token_path(daemon.workdir))
                    listener = _TcpListener(addr.host, addr.port, daemon, self.token, limits, tls)
                self.listeners.append(listener)
        except BaseException:
            self.close()
            raise
        self._threads: list[threading.Thread] = []

    @property
    def addresses(self) -> list[str]:
        """The addresses actually bound (a TCP port 0 becomes the port the kernel chose)."""
        out = []
        for listener in self.listeners:
            if isinstance(listener, _UnixListener):
                out.append(f"unix://{listener.path}")
            else:
                out.append(f"tcp://{_host_port(listener)}")
        return out

    def start(self) -> None:
        for listener in self.listeners:
            t = threading.Thread(
                target=listener.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="ocred-listener",
                daemon=True,
            )
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        for listener in self.listeners:
            if self._threads_started(listener):
                listener.shutdown()
            listener.server_close()
        self.listeners = []

    def _threads_started(self, listener: _Listener) -> bool:
        return any(t.is_alive() for t in getattr(self, "_threads", []))
