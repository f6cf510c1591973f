"""The daemon client's wire format: HTTP/1.1 exchanges on one socket, JSON bodies, quoted URLs.

Why not the standard library's client: :mod:`http.client` imports :mod:`email` (to parse headers)
and :mod:`ssl`, ~30 ms; :mod:`json` imports :mod:`re`, :mod:`urllib.parse` imports :mod:`re` and
:mod:`ipaddress`, and :mod:`socket` imports :mod:`enum` and :mod:`selectors` — together more than an
``ocre ps`` against a running daemon may take in all (issue 14: 2.5× an empty interpreter).

What a client of the daemon needs of HTTP is small. It sends a request line, a few headers and a
body with its length, and reads replies framed by ``Content-Length`` (the daemon's JSON), by the
close (its streams), or chunked (which a proxy in front of a TCP daemon may add), with 1xx replies
skipped. Reading is bounded: 64 KiB of status line and headers, :data:`MAX_BODY` of a body read
whole, and a deadline for the whole exchange when the caller gives a timeout.

The Unix socket is opened with ``_socket``, the C type under :class:`socket.socket`; a ``tcp://``
daemon gets :func:`socket.create_connection` and, with TLS, :mod:`ssl` — imported only then. JSON
goes through the C scanner and encoder that :mod:`json` itself uses (``_json``), with json's default
settings, so the text is the same; the :mod:`json` package is the fallback where ``_json`` is
missing.
"""

from __future__ import annotations

import _socket
import time

from ocre_py.daemon.address import connect_socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    import ssl
    from collections.abc import Mapping
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - CPython has it; elsewhere the json package does the work
    _json = None  # type: ignore[assignment]

MAX_HEAD = 64 * 1024
#: The largest reply read whole (a listing of thousands of containers is a few MB); streams
#: (``logs``, ``attach``) are read piece by piece and have no bound.
MAX_BODY = 64 * 1024 * 1024
_PIECE = 65536
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_BODY_METHODS = ("POST", "PUT", "PATCH")
_JSON_SPACE = " \t\n\r"


class NoReply(ConnectionResetError):
    """The peer closed the connection before the first byte of a reply (http.client's
    ``RemoteDisconnected``): on a kept connection, the daemon closed it while it was idle."""


class BadReply(Exception):
    """A reply that is not HTTP/1.x as this module reads it, too large, or cut short."""


class Connection:
    """One socket to the daemon, and what was read from it but not used yet."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self._buffer = b""
        self._deadline: float | None = None

    def close(self) -> None:
        self.sock.close()

    def set_deadline(self, timeout: float | None) -> None:
        """From now on, the exchange must be done within ``timeout`` seconds (None: no limit)."""
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self.sock.settimeout(timeout)

    def send(
        self, method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None
    ) -> None:
        """Write one request; a body (or a method that takes one) gets its ``Content-Length``."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
        if body is not None or method in _BODY_METHODS:
            lines.append(f"Content-Length: {len(body or b'')}")
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                raise ValueError(f"invalid value for the {name} header: {value!r}")
            lines.append(f"{name}: {value}")
        self._time_left()
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def reply(self) -> Reply:
        """Read a reply's status line and headers (skipping 1xx replies); the body is left to
        :meth:`Reply.read` or :meth:`Reply.read1`."""
        while True:
            line = self.readline()
            if not line:
                raise NoReply("Remote end closed connection without response")
            version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
                raise BadReply(f"not an HTTP/1.x status line: {line[:80]!r}")
            headers = self._headers()
            if not 100 <= int(code) < 200:
                return Reply(self, int(code), reason.strip(), headers, http10=version == "HTTP/1.0")

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        size, last = 0, ""
        while (line := self.readline()) not in (b"\r\n", b"\n"):
            size += len(line)
            if not line:
                raise BadReply("the reply's headers were cut short")
            if size > MAX_HEAD:
                raise BadReply("reply headers over 64 KiB")
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last:  # an obsolete folded line continues the last header
                headers[last] += " " + text.strip()
                continue
            name, sep, value = text.partition(":")
            if not sep:
                raise BadReply(f"not a header line: {text[:80]!r}")
            last = name.strip().lower()
            value = value.strip()
            if last == "content-length" and headers.get(last, value) != value:
                raise BadReply("two different Content-Length headers")
            headers[last] = value
        return headers

    def _time_left(self) -> None:
        """Set the socket's timeout to what is left of the deadline (TimeoutError when none is)."""
        if self._deadline is not None:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            self.sock.settimeout(left)

    def _fill(self) -> bool:
        """Read what the socket has (up to 64 KiB) into the buffer; False at the end of the stream."""
        self._time_left()
        data = self.sock.recv(_PIECE)
        self._buffer += data
        return bool(data)

    def readline(self) -> bytes:
        """The next line with its ending (what is left, maybe b"", at the end of the stream)."""
        start = 0
        while (end := self._buffer.find(b"\n", start)) < 0:
            if len(self._buffer) > MAX_HEAD:
                raise BadReply("a reply line over 64 KiB")
            start = len(self._buffer)
            if not self._fill():
                line, self._buffer = self._buffer, b""
                return line
        line, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
        return line

    def take(self, most: int, *, to_close: bool = False) -> bytes:
        """Up to ``most`` (≥ 1) bytes of a body; b"" at the end of a stream read ``to_close``,
        :class:`BadReply` at an end that comes too early."""
        if not self._buffer and not self._fill() and not to_close:
            raise BadReply("the reply ended early")
        data, self._buffer = self._buffer[:most], self._buffer[most:]
        return data


class Reply:
    """A reply's status and headers (names in lower case); the body comes from :meth:`read` (all
    of it, bounded) or :meth:`read1` (a piece at a time, for streams)."""

    def __init__(
        self, conn: Connection, status: int, reason: str, headers: dict[str, str], *, http10: bool
    ) -> None:
        self.status, self.reason, self.headers = status, reason, headers
        self._conn = conn
        tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        self.chunked = headers.get("transfer-encoding", "").lower().endswith("chunked")
        length = headers.get("content-length")
        if status in (204, 304):
            length = "0"
        elif "transfer-encoding" in headers:
            length = None  # RFC 9112 6.3: Transfer-Encoding wins over Content-Length
        if length is not None and not length.isdigit():
            raise BadReply(f"Content-Length {length[:40]!r} is not a byte count")
        self._left: int | None = None if length is None else int(length)
        self._done = False
        to_close = self._left is None and not self.chunked
        #: The connection cannot carry another request after this reply.
        self.will_close = to_close or "close" in tokens or (http10 and "keep-alive" not in tokens)

    def read(self, limit: int | None = None) -> bytes:
        """The whole body (BadReply past ``limit`` bytes, default :data:`MAX_BODY`)."""
        limit = MAX_BODY if limit is None else limit
        parts, size = [], 0
        while piece := self.read1():
            size += len(piece)
            if size > limit:
                raise BadReply(f"a reply over {limit} bytes")
            parts.append(piece)
        return b"".join(parts)

    def read1(self) -> bytes:
        """The next piece of the body as it arrives (at most 64 KiB); b"" once it is complete."""
        if self._done:
            return b""
        if self.chunked:
            return self._chunk()
        if self._left is None:
            data = self._conn.take(_PIECE, to_close=True)
        elif self._left:
            data = self._conn.take(min(self._left, _PIECE))
            self._left -= len(data)
        else:
            data = b""
        self._done = not data or self._left == 0
        return data

    def _chunk(self) -> bytes:
        conn = self._conn
        if not self._left:
            size = conn.readline().split(b";", 1)[0].strip()
            try:
                self._left = int(size, 16)
            except ValueError:
                raise BadReply(f"a chunk size {size[:20]!r} that is not hex") from None
            if self._left == 0:
                while conn.readline() not in (b"\r\n", b"\n", b""):  # trailer fields: not used
                    pass
                self._done = True
                return b""
        data = conn.take(min(self._left, _PIECE))
        self._left -= len(data)
        if not self._left and conn.readline() not in (b"\r\n", b"\n"):
            raise BadReply("a chunk without its CRLF")
        return data


def open_unix(path: str | os.PathLike[str], timeout: float | None) -> Connection:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    connect_socket(sock, path, timeout)
    return Connection(sock)


def open_tcp(host: str, port: int, timeout: float | None, tls: ssl.SSLContext | None) -> Connection:
    """A TCP connection (TLS when ``tls`` is given: the handshake is done here, the daemon's
    certificate checked against ``host``)."""
    import socket

    sock = socket.create_connection((host, port), timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small requests go out at once
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    return Connection(sock)


# ---- JSON and URLs ------------------------------------------------------------------------------
class _JsonDefaults:
    """What :class:`json.JSONDecoder` hands its C scanner by default."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(_JsonDefaults()) if _json is not None else None  # type: ignore[arg-type]


def loads(data: bytes) -> Any:
    """``json.loads(data)`` for UTF-8 JSON; ValueError for anything else, as json raises."""
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(data)
    text = data.decode()
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"not JSON: nothing readable at character {exc.value}") from None
    if text[end:].strip(_JSON_SPACE):
        raise ValueError(f"not JSON: extra data at character {end}")
    return value


def _unserializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """``json.dumps(value).encode()``: the same text (ASCII, ``", "`` and ``": "`` separators)."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value).encode()
    encode = _json.make_encoder(
        {}, _unserializable, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    return "".join(encode(value, 0)).encode()


def payload_fields(payload: bytes) -> dict[str, str]:
    """A message payload in JSON, as the daemon's subscriptions and the fleet bus tools print it:
    UTF-8 text as it is, anything else base64 with ``"encoding": "base64"``."""
    try:
        return {"payload": payload.decode()}
    except UnicodeDecodeError:
        import base64

        return {"payload": base64.b64encode(payload).decode(), "encoding": "base64"}


def quote(text: str) -> str:
    """``urllib.parse.quote(text, safe="")``: every byte but the unreserved ones as ``%XX``."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode())


def query(params: Mapping[str, object]) -> str:
    """``urlencode`` of the items whose value is not None (a space as ``%20``, read as ``+`` is)."""
    return "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in params.items() if v is not None)
