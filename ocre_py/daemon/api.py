"""The versioned HTTP API (``/v1/...``): a table of routes, each a small function over :class:`Daemon`.

Every route takes a :class:`Request` and returns a :class:`Reply` (JSON) or a :class:`Stream`
(bytes sent as they come: ``logs?follow=1``, ``attach`` and ``messages`` subscriptions). Errors are
:class:`~ocre_py.errors.OcreError`\\ s; :func:`error_reply` turns them into a status and a JSON body
``{"error": {"type", "message", "hint"}}`` that the client turns back into the same exception
class, so ``ocre`` exits with the same code whether it ran the operation itself or asked a daemon.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ocre_py import __version__
from ocre_py.daemon.procstat import rss_bytes
from ocre_py.daemon.service import Daemon
from ocre_py.daemon.validate import MAX_SECONDS, finite_number
from ocre_py.daemon.wire import payload_fields
from ocre_py.errors import Conflict, InvalidInput, NotFound, OcreError

API_VERSION = "v1"
MAX_JSON_BODY = 1024 * 1024
MAX_IMAGE_BODY = 64 * 1024 * 1024
HEARTBEAT = 5.0
MAX_COUNT = 2**31  # line and message counts (``tail``, ``count``)


class LengthRequired(InvalidInput):
    """A request whose route takes a body came without ``Content-Length`` (HTTP 411)."""


STATUS_FOR = {LengthRequired: 411, InvalidInput: 400, NotFound: 404, Conflict: 409}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: bytes = b""
    #: Returns True once the client hung up (checked by streams between chunks).
    client_gone: Callable[[], bool] = lambda: False

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise InvalidInput.field(
                None, "request body", self.body[:40].decode(errors="replace"), f"JSON ({exc})"
            ) from None

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true", "yes")

    def number(self, name: str, default: float | None, *, high: float = MAX_SECONDS) -> float | None:
        """A query parameter as a finite number in ``[0, high]`` (``nan``, ``inf``, ``-1``: 400)."""
        text = self.query.get(name)
        if text is None or text == "":
            return default
        try:
            value = float(text)
        except ValueError:
            raise InvalidInput.field(None, name, text, "a number") from None
        finite_number(name, value, low=0.0, high=high)
        return value


@dataclass
class Reply:
    status: int
    body: Any = None


@dataclass
class Stream:
    content_type: str
    chunks: Iterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Daemon, Request], Reply | Stream]
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


#: Routes that take a request body (it must come with a Content-Length); the others read none.
_WITH_BODY: set[Handler] = set()


def route(method: str, pattern: str, *, body: bool = False) -> Callable[[Handler], Handler]:
    regex = re.compile("^/" + API_VERSION + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", pattern) + "$")

    def register(fn: Handler) -> Handler:
        _ROUTES.append((method, regex, fn))
        if body:
            _WITH_BODY.add(fn)
        return fn

    return register


def dispatch(
    daemon: Daemon,
    method: str,
    path: str,
    query: str,
    read_body: Callable[[int], bytes],
    client_gone: Callable[[], bool] = lambda: False,
) -> Reply | Stream:
    """Find the route for ``method path`` and run it; errors become JSON replies."""
    try:
        matched_path = False
        for m, regex, fn in _ROUTES:
            match = regex.match(path)
            if not match:
                continue
            matched_path = True
            if m != method:
                continue
            # Routes without a body read nothing (the server closes the connection if one was sent).
            limit = MAX_IMAGE_BODY if fn is put_image else MAX_JSON_BODY
            body = read_body(limit) if fn in _WITH_BODY else b""
            request = Request(method, path, match.groupdict(), _query(query), body, client_gone)
            return fn(daemon, request)
        if matched_path:
            return Reply(405, error_body("MethodNotAllowed", f"{method} is not allowed on {path}"))
        if not path.startswith(f"/{API_VERSION}/"):
            return Reply(
                404, error_body("NotFound", f"unknown API path {path}; this daemon speaks /{API_VERSION}/")
            )
        return Reply(404, error_body("NotFound", f"unknown API path {path}"))
    except OcreError as exc:
        return error_reply(exc)


def error_reply(exc: OcreError) -> Reply:
    status = next((s for cls, s in STATUS_FOR.items() if isinstance(exc, cls)), 500)
    return Reply(status, error_body(type(exc).__name__, exc.message, exc.hint))


def daemon_info(daemon: Daemon) -> dict[str, Any]:
    """``ocre daemon info``: where it runs, its containers by state, its memory."""
    states: dict[str, int] = {}
    for c in daemon.containers():
        states[c["status"]] = states.get(c["status"], 0) + 1
    return {
        "workdir": str(daemon.workdir),
        "pid": os.getpid(),
        "started_at": daemon.started_at,
        "containers": sum(states.values()),
        "states": states,
        "rss_bytes": rss_bytes(),
        "images": len([p for p in daemon.images_dir.iterdir() if p.is_file()]),
    }


def error_body(kind: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "hint": hint}}


def _query(text: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


# ---- system -----------------------------------------------------------------------------------
@route("GET", "/version")
def version(daemon: Daemon, req: Request) -> Reply:
    return Reply(200, {"api": API_VERSION, "version": __version__, "workdir": str(daemon.workdir)})


@route("GET", "/info")
def info(daemon: Daemon, req: Request) -> Reply:
    return Reply(200, {"api": API_VERSION, "version": __version__, **daemon_info(daemon)})


# ---- containers ---------------------------------------------------------------------------------
@route("GET", "/containers")
def list_containers(daemon: Daemon, req: Request) -> Reply:
    return Reply(200, daemon.containers())


@route("POST", "/containers", body=True)
def create_container(daemon: Daemon, req: Request) -> Reply:
    data = req.json()
    start = bool(data.pop("start", False)) if isinstance(data, dict) else False
    return Reply(201, daemon.create(data, start=start))


@route("GET", "/containers/{id}")
def inspect_container(daemon: Daemon, req: Request) -> Reply:
    return Reply(200, daemon.describe(req.params["id"]))


@route("DELETE", "/containers/{id}")
def remove_container(daemon: Daemon, req: Request) -> Reply:
    daemon.remove(req.params["id"], force=req.flag("force"))
    return Reply(200, {"id": req.params["id"]})


@route("POST", "/containers/{id}/attach")
def attach_container(daemon: Daemon, req: Request) -> Stream:
    """What the container writes from now on (``?start=1``: it is started first), streamed until it
    stops: ``ocre run`` attached through the daemon. The exit code is a ``wait`` away."""
    cid = req.params["id"]
    clog = daemon.logs(cid)
    position = clog.total  # this run's output only, never an earlier run's
    if req.flag("start"):
        daemon.start(cid)
    return Stream("application/octet-stream", _follow(daemon, req, cid, position, follow=True))


@route("POST", "/containers/{id}/{action}")
def container_action(daemon: Daemon, req: Request) -> Reply:
    cid, action = req.params["id"], req.params["action"]
    grace = req.number("time", 10.0) or 0.0
    actions: dict[str, Callable[[], Any]] = {
        "start": lambda: daemon.start(cid),
        "stop": lambda: daemon.stop(cid, grace),
        "kill": lambda: daemon.kill(cid),
        "pause": lambda: daemon.pause(cid),
        "unpause": lambda: daemon.unpause(cid),
        "restart": lambda: daemon.restart(cid, grace),
        "wait": lambda: {"id": cid, "exit_code": daemon.wait(cid, req.number("timeout", None))},
    }
    if action not in actions:
        raise InvalidInput.field(None, "container action", action, ", ".join(actions))
    return Reply(200, actions[action]())


@route("GET", "/containers/{id}/logs")
def container_logs(daemon: Daemon, req: Request) -> Stream:
    cid = req.params["id"]
    clog = daemon.logs(cid)
    follow = req.flag("follow")
    tail = req.number("tail", None, high=MAX_COUNT)
    position = clog.tail_position(None if tail is None else int(tail))
    return Stream("application/octet-stream", _follow(daemon, req, cid, position, follow=follow))


def _follow(daemon: Daemon, req: Request, cid: str, position: int, *, follow: bool) -> Iterator[bytes]:
    """The container's log from ``position``; with ``follow``, until it stops (and is not about to
    be restarted) or the client hangs up."""
    clog = daemon.logs(cid)
    pos = position
    while True:
        data, pos = clog.read_from(pos)
        if data:
            yield data
        if not follow or clog.closed or req.client_gone():
            return
        if not daemon.is_live(cid):
            data, pos = clog.read_from(pos)  # what the last moments wrote
            if data:
                yield data
            return
        clog.wait_for_more(pos, 0.5)


# ---- images -------------------------------------------------------------------------------------
@route("GET", "/images")
def list_images(daemon: Daemon, req: Request) -> Reply:
    return Reply(200, daemon.images())


@route("PUT", "/images/{name}", body=True)
def put_image(daemon: Daemon, req: Request) -> Reply:
    return Reply(200, daemon.import_image(req.params["name"], req.body))


@route("DELETE", "/images/{name}")
def remove_image(daemon: Daemon, req: Request) -> Reply:
    daemon.remove_image(req.params["name"], force=req.flag("force"))
    return Reply(200, {"name": req.params["name"]})


# ---- messaging ----------------------------------------------------------------------------------
@route("POST", "/messages", body=True)
def publish(daemon: Daemon, req: Request) -> Reply:
    data = req.json()
    if not isinstance(data, dict):
        raise InvalidInput.field(None, "request body", type(data).__name__, "a JSON object")
    payload = decode_payload(data)
    rc = daemon.publish(str(data.get("topic") or ""), payload, str(data.get("content_type") or ""))
    return Reply(200, {"rc": rc, "delivered": rc == 0})


@route("GET", "/messages")
def subscribe(daemon: Daemon, req: Request) -> Stream:
    """JSON lines, one per message; an empty line every few seconds tells a dead client apart."""
    prefix = req.query.get("topic", "")
    count = int(req.number("count", 0, high=MAX_COUNT) or 0)
    inbox: queue.Queue[bytes] = queue.Queue(maxsize=1024)

    def deliver(message: Any) -> None:
        try:
            inbox.put_nowait(json.dumps(encode_message(message)).encode() + b"\n")
        except queue.Full:
            pass  # a client that does not read loses messages rather than the daemon's memory

    handle = daemon.subscribe(prefix, deliver)

    def chunks() -> Iterator[bytes]:
        sent, last = 0, time.monotonic()
        try:
            yield b"\n"  # tells the client the subscription is in place
            while not count or sent < count:
                try:
                    line = inbox.get(timeout=0.5)
                except queue.Empty:
                    if req.client_gone():
                        return
                    if time.monotonic() - last >= HEARTBEAT:
                        last = time.monotonic()
                        yield b"\n"
                    continue
                sent += 1
                yield line
        finally:
            daemon.unsubscribe(handle)

    return Stream("application/x-ndjson", chunks())


def encode_message(message: Any) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "topic": message.topic.decode(errors="replace"),
        "content_type": message.content_type.decode(errors="replace"),
        **payload_fields(message.payload),
    }


def decode_payload(data: dict[str, Any]) -> bytes:
    payload = data.get("payload", "")
    if not isinstance(payload, str):
        raise InvalidInput.field(None, "payload", payload, "a string")
    if data.get("encoding") == "base64":
        try:
            return base64.b64decode(payload, validate=True)
        except ValueError:
            raise InvalidInput.field(None, "payload", payload[:20], "base64 text") from None
    return payload.encode()


# ---- simulated devices --------------------------------------------------------------------------
@route("GET", "/devices/gpio")
def gpio_state(daemon: Daemon, req: Request) -> Reply:
    return Reply(200, daemon.devices.gpio.snapshot())


@route("POST", "/devices/gpio", body=True)
def gpio_drive(daemon: Daemon, req: Request) -> Reply:
    from ocre_py.runtime.devices import GPIO_ALIASES

    data = req.json()
    if not isinstance(data, dict):
        raise InvalidInput.field(None, "request body", type(data).__name__, "a JSON object")
    level = data.get("level")
    if level not in (0, 1):
        raise InvalidInput.field(None, "level", level, "0 or 1")
    if "alias" in data:
        pin = GPIO_ALIASES.get(str(data["alias"]))
        if pin is None:
            raise InvalidInput.field(None, "GPIO alias", data["alias"], ", ".join(GPIO_ALIASES))
        port, number = pin
    else:
        raw_port, raw_pin = data.get("port"), data.get("pin")
        if not isinstance(raw_port, int) or not isinstance(raw_pin, int):
            raise InvalidInput.field(None, "GPIO pin", f"{raw_port}.{raw_pin}", "PORT.PIN with integers")
        port, number = raw_port, raw_pin
    try:
        daemon.devices.gpio.drive_input(port, number, level)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return Reply(200, {"port": port, "pin": number, "level": level})


@route("GET", "/devices/sensors")
def sensors_state(daemon: Daemon, req: Request) -> Reply:
    return Reply(200, daemon.devices.sensors.describe())


@route("POST", "/devices/sensors", body=True)
def sensor_pin(daemon: Daemon, req: Request) -> Reply:
    data = req.json()
    if not isinstance(data, dict):
        raise InvalidInput.field(None, "request body", type(data).__name__, "a JSON object")
    name, channel, value = data.get("name"), data.get("channel"), data.get("value")
    if not isinstance(channel, int) or isinstance(channel, bool):
        raise InvalidInput.field(
            None, "sensor channel", channel, "a channel type number (see 'ocre device sensor ls')"
        )
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput.field(None, "sensor value", value, "a number, or null to unpin")
        finite_number("sensor value", value, low=-3.4e38, high=3.4e38)  # fits a float32
    try:
        daemon.devices.sensors.pin_value(str(name), channel, value)
    except ValueError as exc:
        raise InvalidInput(str(exc), hint="'ocre device sensor ls' lists sensors and channels") from None
    return Reply(200, {"name": name, "channel": channel, "value": value})
