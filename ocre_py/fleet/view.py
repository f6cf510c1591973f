"""``ocre fleet ui``: one web page that shows a fleet live, from a single MQTT subscription.

The view subscribes to ``ocre/v1/<fleet>/#`` once, keeps a bounded model of what the retained
messages and the bus say (:mod:`ocre_py.fleet.view_model`), and pushes every change to the open
pages as Server-Sent Events. It serves three things on the standard library's
``ThreadingHTTPServer``: the page (``/``, ``view.html``: vanilla JS that only ever sets
``textContent``), a JSON snapshot (``/state``) and the event stream (``/events``: a snapshot,
then one event per change).

Bounds, since a browser and the broker are both outside our control: at most
:data:`MAX_CONNECTIONS` connections hold a thread at once; a request's head is read up to
:data:`MAX_HEAD` bytes within :data:`REQUEST_TIMEOUT` seconds in all and a body is refused; at
most :data:`MAX_CLIENTS` pages stream at once; each page has a queue of :data:`CLIENT_QUEUE`
events, and a page that falls behind gets a fresh snapshot instead of an ever longer queue; a
page that stops reading is dropped when a write blocks for :data:`REQUEST_TIMEOUT` seconds.

Security: there is no authentication. The view listens on loopback by default and then only
answers requests whose ``Host`` is a loopback name, so a web page elsewhere cannot read it
through DNS rebinding. The page's Content-Security-Policy allows only its own script and style
(by hash), so even a rendering bug could not run a script that came from the broker.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import ipaddress
import json
import logging
import queue
import re
import select
import socket
import threading
import time
from importlib import resources
from typing import TYPE_CHECKING, Any

from ocre_py.errors import InvalidInput
from ocre_py.fleet.broker import BrokerOptions, client_id, connect, make_client
from ocre_py.fleet.protocol import base, check_fleet_name
from ocre_py.fleet.view_model import BUS_SIZE, FleetModel

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

MAX_HEAD = 8 * 1024  # request line and headers
REQUEST_TIMEOUT = 10.0  # seconds to send a request head, and for one write to a page
MAX_CLIENTS = 16  # pages streaming at once
MAX_CONNECTIONS = MAX_CLIENTS + 16  # connections at once, streaming or not (a thread each)
CLIENT_QUEUE = 256  # events waiting for one page
HEARTBEAT = 15.0  # seconds between comments on an idle stream (finds closed pages)
DEFAULT_LISTEN = "127.0.0.1:8080"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; port 0: any free port), checked."""
    m = re.fullmatch(r"(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})", value)
    port = int(m.group(3)) if m else -1
    if not m or port > 65535:
        raise InvalidInput.field(None, "--listen", value, "HOST:PORT, such as 127.0.0.1:8080 (port 0: any)")
    return m.group(1) or m.group(2), port


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host of a ``Host`` header: ``localhost:8080`` → ``localhost``, ``[::1]:80`` → ``[::1]``."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def _page() -> tuple[bytes, str]:
    """The page and its Content-Security-Policy: the inline script and style, by their hashes."""
    html = resources.files("ocre_py.fleet").joinpath("view.html").read_text(encoding="utf-8")

    def sha(tag: str) -> str:
        m = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        assert m, f"view.html has no <{tag}>"
        return "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode() + "'"

    csp = (
        f"default-src 'none'; script-src {sha('script')}; style-src {sha('style')}; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html.encode(), csp


class _Server(http.server.ThreadingHTTPServer):
    """One thread per connection, at most :data:`MAX_CONNECTIONS` of them: one more is closed at
    once rather than given a thread."""

    daemon_threads = True
    request_queue_size = 64  # the listen backlog (socketserver's 5 stalls a burst of page loads)

    def __init__(self, address: tuple[str, int], handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            log.debug("view: refusing a connection over %d", MAX_CONNECTIONS)
            try:
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 10\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Page:
    """One streaming page: its bounded event queue, and whether it fell behind."""

    def __init__(self) -> None:
        self.events: queue.Queue[bytes | None] = queue.Queue(maxsize=CLIENT_QUEUE)
        self.lagging = False


def sse(event: dict[str, Any]) -> bytes:
    """One Server-Sent Event; JSON has no raw newline, so one ``data:`` line holds it."""
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


class FleetView:
    """The view of one fleet: ``start()`` connects and serves, ``close()`` stops both."""

    def __init__(
        self,
        options: BrokerOptions,
        fleet: str,
        *,
        max_clients: int = MAX_CLIENTS,
        bus_size: int = BUS_SIZE,
    ) -> None:
        self.options = options
        self.fleet = check_fleet_name(fleet, "--fleet")
        self.max_clients = max_clients
        self.model = FleetModel(self.fleet, bus_size=bus_size)
        self.lock = threading.Lock()  # the model and the set of pages, together
        self.pages: set[_Page] = set()
        self.page, self.csp = _page()
        self.closing = threading.Event()
        self.client: mqtt.Client | None = None
        self.server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.loopback_only = True

    # ---- MQTT ---------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 8080) -> str:
        """Connect to the broker (one clear error when it cannot), listen, serve; the page's URL."""
        client = make_client(self.options, client_id("view"))
        client.on_message = self._on_message
        client.on_disconnect = lambda *_a: self._broadcast(self.model.set_connected(False))
        topic = base(self.fleet) + "/#"

        def subscribed(c: mqtt.Client) -> None:
            c.subscribe(topic, qos=1)
            self._broadcast(self.model.set_connected(True))

        connect(self.options, client, on_connect=subscribed)
        self.client = client
        try:
            self.server = self._serve(host, port)
        except BaseException:
            self.close()
            raise
        return self.url

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        """On paho's thread; the model refuses a payload over its bound before parsing it."""
        with self.lock:
            event = self.model.apply(msg.topic, bytes(msg.payload))
            if event is not None:
                self._send(sse(event))

    def _broadcast(self, event: dict[str, Any]) -> None:
        with self.lock:
            self._send(sse(event))

    def _send(self, data: bytes) -> None:
        """Queue an event for every page (under :attr:`lock`); a full queue marks the page behind."""
        for page in self.pages:
            if page.lagging:
                continue
            try:
                page.events.put_nowait(data)
            except queue.Full:
                page.lagging = True

    # ---- HTTP ---------------------------------------------------------------------------------
    def _serve(self, host: str, port: int) -> _Server:
        self.loopback_only = is_loopback(host)
        handler = type("Handler", (_Handler,), {"view": self})
        server_class = _Server6 if ":" in host else _Server
        try:
            server = server_class((host, port), handler)
        except OSError as exc:
            raise InvalidInput.field(
                None, "--listen", f"{host}:{port}", f"an address to listen on ({exc.strerror or exc})"
            ) from None
        self._thread = threading.Thread(target=server.serve_forever, name="ocre-view-http", daemon=True)
        self._thread.start()
        return server

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def open_stream(self) -> tuple[_Page, bytes] | None:
        """Register a page and its first event (the snapshot), atomically with the model: no
        change is lost or sent twice. None when :attr:`max_clients` pages stream already."""
        with self.lock:
            if len(self.pages) >= self.max_clients:
                return None
            page = _Page()
            self.pages.add(page)
            return page, sse(self.model.snapshot())

    def catch_up(self, page: _Page) -> bytes:
        """A page that fell behind: drop its queue, send a fresh snapshot instead."""
        with self.lock:
            while True:
                try:
                    page.events.get_nowait()
                except queue.Empty:
                    break
            page.lagging = False
            return sse(self.model.snapshot())

    def close_stream(self, page: _Page) -> None:
        with self.lock:
            self.pages.discard(page)

    def state(self) -> bytes:
        with self.lock:
            return json.dumps(self.model.snapshot(), separators=(",", ":")).encode()

    def close(self) -> None:
        self.closing.set()
        with self.lock:
            for page in self.pages:
                page.lagging = False
                try:
                    page.events.put_nowait(None)
                except queue.Full:
                    page.lagging = True  # the stream checks ``closing`` before it catches up
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET only, no bodies, a bounded head, one request per connection."""

    view: FleetView
    server_version = "ocre-fleet-view"
    default_request_version = "HTTP/1.0"  # errors get a status line even for HTTP/0.9 garbage
    timeout = REQUEST_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("view: %s %s", self.address_string(), format % args)

    def handle_one_request(self) -> None:
        """The standard handler reads lines of up to 64 KiB, 100 headers, with a timeout per read
        (a client sending a byte now and then holds it for hours). Read the head here, up to
        :data:`MAX_HEAD` bytes within :data:`REQUEST_TIMEOUT` seconds in all, and let the
        standard parser read it from memory."""
        self.close_connection = True
        self.command, self.request_version, self.requestline = "", self.default_request_version, ""
        head = self.read_head()
        if head is None:
            return
        if len(head) > MAX_HEAD:
            self.send_error(431, f"request head over {MAX_HEAD} bytes")
            self.discard_input()
            return
        self.rfile = io.BytesIO(bytes(head))
        self.raw_requestline = self.rfile.readline()
        if not self.parse_request():
            return
        if self.command != "GET":
            self.send_error(405, "only GET")
            return
        if self.headers.get("Content-Length", "0") not in ("", "0") or self.headers.get("Transfer-Encoding"):
            self.send_error(413, "no request bodies")
            self.discard_input()
            return
        if self.view.loopback_only and not is_loopback(host_name(self.headers.get("Host") or "")):
            self.send_error(403, "this view answers loopback host names only")
            return
        try:
            self.route(self.path.split("?", 1)[0])
            self.wfile.flush()
        except (TimeoutError, OSError):
            pass  # the page went away

    def read_head(self) -> bytes | None:
        """The request head (over :data:`MAX_HEAD` when too long); None when the client sent
        nothing in time. Bytes after the head are a body, which no request here may have."""
        deadline = time.monotonic() + REQUEST_TIMEOUT
        head = b""
        try:
            while b"\r\n\r\n" not in head and b"\n\n" not in head and len(head) <= MAX_HEAD:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.connection.settimeout(left)
                chunk = self.connection.recv(MAX_HEAD + 1 - len(head))
                if not chunk:
                    break
                head += chunk
        except OSError:  # the timeout too
            return None
        self.connection.settimeout(REQUEST_TIMEOUT)
        return head or None

    def discard_input(self) -> None:
        """Read (a bounded amount of) what the client still sends before closing: closing with
        unread input makes the kernel reset the connection, and the client may lose our answer."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1.0)
            for _ in range(16):
                if not self.connection.recv(4096):
                    break
        except OSError:
            pass

    def page_gone(self) -> bool:
        """A closed page makes its socket readable with nothing to read: its place frees within a
        second instead of at the next failed write."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True

    def route(self, path: str) -> None:
        if path in ("/", "/index.html"):
            self.reply(200, "text/html; charset=utf-8", self.view.page)
        elif path == "/state":
            self.reply(200, "application/json", self.view.state())
        elif path == "/events":
            self.stream()
        elif path == "/favicon.ico":
            self.send_response(204)
            self.common_headers()
            self.end_headers()
        else:
            self.send_error(404, "not found")

    def common_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", self.view.csp)

    def reply(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.common_headers()
        self.end_headers()
        self.wfile.write(body)

    def stream(self) -> None:
        opened = self.view.open_stream()
        if opened is None:
            self.send_response(503)
            self.send_header("Retry-After", "10")
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.common_headers()
            self.end_headers()
            self.wfile.write(f"at most {self.view.max_clients} pages stream at once\n".encode())
            return
        page, first = opened
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("X-Accel-Buffering", "no")  # a proxy must not hold events back
            self.common_headers()
            self.end_headers()
            self.wfile.write(b"retry: 2000\n\n" + first)
            self.wfile.flush()
            idle = 0.0
            while not self.view.closing.is_set():
                try:
                    data = page.events.get(timeout=1.0)
                except queue.Empty:
                    if self.page_gone():
                        return
                    idle += 1.0
                    if idle < HEARTBEAT:
                        continue
                    data = b": idle\n\n"
                idle = 0.0
                if data is None or self.view.closing.is_set():
                    return
                if page.lagging:
                    data = self.view.catch_up(page)
                self.wfile.write(data)
                self.wfile.flush()
        finally:
            self.view.close_stream(page)
