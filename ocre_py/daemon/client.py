"""A client for the daemon's ``/v1`` API over a Unix socket or TCP (HTTP/1.1 from :mod:`.wire`).

Errors come back as the exception class the daemon raised (``NotFound``, ``Conflict``,
``InvalidInput``…), so a CLI verb fails the same way whether the work happened here or there.
Anything about reaching the daemon itself is a :class:`~ocre_py.errors.DaemonError` that names the
address and where it came from (``-H``, ``$OCRE_HOST``, default socket).

Client commands start with this module (``ocre ps`` is a start-up benchmark, issue 14), so it
imports only what a call over the Unix socket uses; tokens and TLS, which only a ``tcp://`` daemon
needs, are imported when one is used.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import time

from ocre_py import errors
from ocre_py.daemon import wire
from ocre_py.daemon.address import Address, resolve
from ocre_py.errors import DaemonError, OcreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterator
    from typing import Any

    from ocre_py.daemon.tls import TlsFiles

API = "/v1"
_ERRORS: dict[str, type[OcreError]] = {
    cls.__name__: cls
    for cls in (
        errors.InvalidInput,
        errors.NotFound,
        errors.Conflict,
        errors.ContainerError,
        errors.ImageError,
        errors.DaemonError,
    )
}


class DaemonClient:
    """Calls keep their connection per thread (HTTP/1.1 keep-alive): a tool making many calls pays
    for one connect; a call on a kept connection the daemon has since closed is retried once on a
    fresh one (only when nothing was received, as urllib3 does)."""

    def __init__(
        self,
        address: Address,
        *,
        token: str | None = None,
        origin: str = "",
        timeout: float = 60.0,
        connect_retry: float = 2.0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.address = address
        self.connect_retry = connect_retry
        self.tls = tls if address.is_tcp else None  # a Unix socket is guarded by its file mode
        self._tls_context: ssl.SSLContext | None = None
        if self.tls is not None:
            from ocre_py.daemon.tls import client_context

            self._tls_context = client_context(self.tls)
        self.token = token
        self.origin = origin
        self.timeout = timeout
        #: Idle kept connections by thread (``_thread.get_ident()``; a connection in use is taken
        #: out). A dict, not :class:`threading.local`: no :mod:`threading` import at start-up.
        self._idle: dict[int, wire.Connection] = {}
        host = f"[{address.host}]" if ":" in address.host else address.host
        self._host_header = f"{host}:{address.port}" if address.is_tcp else "localhost"

    def close(self) -> None:
        """Close the kept connections (also done when the client is garbage-collected)."""
        while self._idle:
            with contextlib.suppress(KeyError):
                self._idle.pop(next(iter(self._idle))).close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    @classmethod
    def connect(
        cls,
        host: str | None = None,
        *,
        token: str | None = None,
        token_file: str | os.PathLike[str] | None = None,
        tls: TlsFiles | None = None,
    ) -> DaemonClient:
        """Resolve the address (``-H`` > ``$OCRE_HOST`` > default socket) and, for TCP, the token and
        TLS files (``tls``, else ``$OCRE_TLS_VERIFY``/``$OCRE_CERT_PATH``: see :mod:`.tls`)."""
        address, origin = resolve(host)
        if address.is_tcp and tls is None:
            from ocre_py.daemon.tls import resolve_client

            tls = resolve_client()
        if address.is_tcp and token is None:
            from pathlib import Path

            from ocre_py.daemon import auth
            from ocre_py.workdir import default_workdir

            if token_file is not None:
                token = auth.read_token(Path(token_file))
            elif os.environ.get("OCRE_TOKEN"):
                token = os.environ["OCRE_TOKEN"]
            else:
                local = auth.token_path(default_workdir()[0])
                if local.is_file():
                    token = auth.read_token(local)
        return cls(address, token=token, origin=origin, tls=tls)

    # ---- transport ---------------------------------------------------------------------------
    def _open(self, timeout: float | None) -> wire.Connection:
        """Connect, retrying for up to ``connect_retry`` seconds (10 ms doubling to 200 ms) while
        the daemon's listen queue is full (EAGAIN) or its socket file exists but nobody accepts
        yet (ECONNREFUSED: a daemon starting up, or one killed; the last error is raised)."""
        deadline = time.monotonic() + self.connect_retry
        pause = 0.01
        while True:
            try:
                if self.address.kind == "unix":
                    assert self.address.path is not None
                    return wire.open_unix(self.address.path, timeout)
                return wire.open_tcp(self.address.host, self.address.port, timeout, self._tls_context)
            except (BlockingIOError, ConnectionRefusedError) as exc:
                starting = self.address.kind == "unix" or isinstance(exc, BlockingIOError)
                if not starting or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def _exchange(
        self,
        method: str,
        path: str,
        body: bytes | None,
        content_type: str,
        timeout: float | None,
        *,
        reuse: bool = False,
    ) -> tuple[wire.Connection, wire.Reply]:
        """Send one request and read the reply's head, within ``timeout`` (None: no limit)."""
        headers = {"Content-Type": content_type} if body is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        target = API + path
        kept = self._idle.pop(_thread.get_ident(), None) if reuse else None
        while True:
            conn = kept
            try:
                if conn is None:
                    conn = self._open(timeout)
                conn.set_deadline(timeout)
                conn.send(method, target, self._host_header, headers, body)
                return conn, conn.reply()
            except BaseException as exc:
                if conn is not None:
                    conn.close()
                if kept is not None and isinstance(exc, BrokenPipeError | ConnectionResetError):
                    kept = None  # closed by the daemon while idle (wire.NoReply too): once more, fresh
                    continue
                if isinstance(exc, OSError | wire.BadReply):
                    raise self._failure(exc, timeout) from None
                raise

    def _failure(self, exc: OSError | wire.BadReply, timeout: float | None) -> DaemonError:
        """The error of a request that got no reply, in words (and a hint where one helps)."""
        where = f"the Ocre daemon at {self.address}"
        if isinstance(exc, ConnectionRefusedError | FileNotFoundError):
            return DaemonError(
                f"cannot reach {where} ({self.origin or 'address'}): {exc.strerror}",
                hint="start it with 'ocre daemon &', or point -H / $OCRE_HOST at a running one",
            )
        if isinstance(exc, BlockingIOError):
            return DaemonError(
                f"{where} accepted no connection within {self.connect_retry:g} s "
                "(its listen queue stayed full)",
                hint="it is overloaded: retry later, or make fewer connections at once",
            )
        if isinstance(exc, TimeoutError):
            return DaemonError(f"{where} did not answer within {timeout} s")
        if self._tls_context is not None:
            import ssl

            if isinstance(exc, ssl.SSLError):
                return DaemonError(
                    f"TLS with {where} failed: {self._tls_problem(exc)}",
                    hint="check --tls-ca/--tls-cert/--tls-key (or $OCRE_CERT_PATH) against the daemon's "
                    "--tls-cert/--tls-ca",
                )
        if isinstance(exc, ConnectionResetError):
            hint = None
            if self.address.is_tcp and self.tls is None:
                hint = "if the daemon serves TLS, connect with --tls (or set $OCRE_TLS_VERIFY=1)"
            return DaemonError(f"{where} closed the connection without answering ({exc})", hint=hint)
        return DaemonError(f"talking to {where} failed: {exc}")

    def _tls_problem(self, exc: ssl.SSLError) -> str:
        """The reason in words: a daemon doing mutual TLS just hangs up on a client without a cert."""
        import ssl

        reason = str(exc.reason or exc)
        refused = isinstance(exc, ssl.SSLEOFError) or any(
            r in reason for r in ("CERTIFICATE_REQUIRED", "UNKNOWN_CA", "BAD_CERTIFICATE")
        )
        if refused and self.tls is not None and self.tls.cert is None:
            return f"the daemon requires a client certificate (mutual TLS; {reason})"
        if refused and self.tls is not None:
            return f"the daemon refused the client certificate {self.tls.cert} ({reason})"
        return reason

    def _raise_for(self, reply: wire.Reply, data: bytes) -> None:
        try:
            err = wire.loads(data)["error"]
            kind, message, hint = err["type"], err["message"], err.get("hint")
        except (ValueError, KeyError, TypeError):
            kind, message, hint = "", data[:200].decode(errors="replace") or reply.reason, None
        if reply.status == 401:
            raise DaemonError(f"the daemon at {self.address} refused the request: {message}", hint=hint)
        raise _ERRORS.get(kind, DaemonError)(message, hint=hint)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        raw: bytes | None = None,
        timeout: float | str | None = "default",
    ) -> Any:
        """One call; returns the decoded JSON reply or raises the daemon's error."""
        if query:
            path += "?" + wire.query(query)
        data = raw if raw is not None else (wire.dumps(body) if body is not None else None)
        ctype = "application/octet-stream" if raw is not None else "application/json"
        limit = self.timeout if timeout == "default" else timeout
        conn, reply = self._exchange(method, path, data, ctype, limit, reuse=True)  # type: ignore[arg-type]
        try:
            payload = reply.read()
        except (OSError, wire.BadReply) as exc:
            conn.close()
            if isinstance(exc, TimeoutError):
                raise self._failure(exc, limit) from None  # type: ignore[arg-type]
            raise DaemonError(f"the daemon at {self.address} closed the connection: {exc}") from None
        if reply.will_close:
            conn.close()
        else:
            self._idle[_thread.get_ident()] = conn
        if reply.status >= 400:
            self._raise_for(reply, payload)
        return wire.loads(payload) if payload else None

    def stream(
        self, path: str, query: dict[str, Any] | None = None, *, method: str = "GET"
    ) -> Iterator[bytes]:
        """Call a streaming route; yields chunks as the daemon sends them, until it closes."""
        if query:
            path += "?" + wire.query(query)
        conn, reply = self._exchange(method, path, None, "application/json", None)
        try:
            if reply.status >= 400:
                self._raise_for(reply, reply.read())
            while True:
                try:
                    chunk = reply.read1()
                except (OSError, wire.BadReply):
                    return
                if not chunk:
                    return
                yield chunk
        finally:
            conn.close()

    # ---- API ---------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        return self.request("GET", "/version", timeout=5.0)

    def info(self) -> dict[str, Any]:
        return self.request("GET", "/info")

    def containers(self) -> list[dict[str, Any]]:
        return self.request("GET", "/containers")

    def inspect(self, cid: str) -> dict[str, Any]:
        return self.request("GET", f"/containers/{_q(cid)}")

    def create(self, request: dict[str, Any], *, start: bool = False) -> dict[str, Any]:
        return self.request("POST", "/containers", body={**request, "start": start})

    def action(self, cid: str, action: str, **query: Any) -> Any:
        """start, stop (time=), kill, pause, unpause, restart (time=) or wait (timeout=)."""
        timeout: float | None = self.timeout
        if action in ("stop", "restart"):
            timeout = self.timeout + float(query.get("time") or 10.0)
        elif action == "wait":
            t = query.get("timeout")
            timeout = None if t is None else float(t) + self.timeout
        return self.request("POST", f"/containers/{_q(cid)}/{action}", query=query, timeout=timeout)

    def remove(self, cid: str, *, force: bool = False) -> None:
        self.request("DELETE", f"/containers/{_q(cid)}", query={"force": "1" if force else None})

    def logs(self, cid: str, *, follow: bool = False, tail: int | None = None) -> Iterator[bytes]:
        return self.stream(f"/containers/{_q(cid)}/logs", {"follow": "1" if follow else None, "tail": tail})

    def attach(self, cid: str, *, start: bool = False) -> Iterator[bytes]:
        """The container's output from now on (``start``: start it first), until it stops."""
        return self.stream(f"/containers/{_q(cid)}/attach", {"start": "1" if start else None}, method="POST")

    def images(self) -> list[dict[str, Any]]:
        return self.request("GET", "/images")

    def import_image(self, name: str, data: bytes) -> dict[str, Any]:
        return self.request("PUT", f"/images/{_q(name)}", raw=data)

    def remove_image(self, name: str, *, force: bool = False) -> None:
        self.request("DELETE", f"/images/{_q(name)}", query={"force": "1" if force else None})

    def publish(self, topic: str, payload: bytes, content_type: str = "text/plain") -> dict[str, Any]:
        import base64

        body = {
            "topic": topic,
            "content_type": content_type,
            "payload": base64.b64encode(payload).decode(),
            "encoding": "base64",
        }
        return self.request("POST", "/messages", body=body)

    def subscribe(self, topic: str, *, count: int | None = None) -> Iterator[dict[str, Any]]:
        """Messages as dicts; the first item is ``{}`` once the subscription is in place."""
        buffer = b""
        first = True
        for chunk in self.stream("/messages", {"topic": topic, "count": count}):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield wire.loads(line)
                elif first:
                    yield {}
                first = False

    def gpio(self) -> list[dict[str, Any]]:
        return self.request("GET", "/devices/gpio")

    def drive_gpio(
        self, level: int, *, alias: str | None = None, port: int | None = None, pin: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"level": level}
        body.update({"alias": alias} if alias is not None else {"port": port, "pin": pin})
        return self.request("POST", "/devices/gpio", body=body)

    def sensors(self) -> list[dict[str, Any]]:
        return self.request("GET", "/devices/sensors")

    def pin_sensor(self, name: str, channel: int, value: float | None) -> dict[str, Any]:
        return self.request(
            "POST", "/devices/sensors", body={"name": name, "channel": channel, "value": value}
        )


def _q(part: str) -> str:
    return wire.quote(part)


def is_reachable(client: DaemonClient) -> bool:
    try:
        client.version()
        return True
    except (TimeoutError, DaemonError):
        return False
