"""Fuzz the daemon's API dispatch: method, path, query and body as a client could send them.

The daemon is real (its own workdir, a real runtime, no socket): ``api.dispatch`` turns every
``OcreError`` into a JSON reply, so *any* exception escaping it is a bug that would reach the
server's catch-all as a 500. Streams are not iterated (a follow or subscribe would block).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fuzz._seeds import runnable_module

PARSER = "ocre_py.daemon.api.dispatch (+ requests.normalize, decode_payload, query parsing)"
METHODS = ("GET", "POST", "PUT", "DELETE")
_TMP = Path(tempfile.mkdtemp(prefix="ocre-fuzz-daemon-"))
atexit.register(shutil.rmtree, _TMP, True)


@functools.cache
def _daemon() -> Any:
    from ocre_py.daemon.service import Daemon

    daemon = Daemon(_TMP / "wd")
    daemon.import_image("hello", runnable_module())
    atexit.register(_close, daemon)
    return daemon


def _close(daemon: Any) -> None:
    """At exit, quietly: test runners have closed the streams their log handlers wrote to."""
    import logging

    logging.disable(logging.CRITICAL)
    daemon.close()


def _request(method: int, path: str, query: str, body: bytes) -> bytes:
    return bytes([method]) + path.encode() + b"\0" + query.encode() + b"\0" + body


def seeds() -> list[bytes]:
    return [
        _request(1, "/v1/containers", "", b'{"image":"hello","name":"c1","args":["a"],"env":["K=V"]}'),
        _request(1, "/v1/containers", "", b'{"image":"hello","mounts":["/tmp:/data"],"restart":"always"}'),
        _request(1, "/v1/containers/c1/start", "", b""),
        _request(1, "/v1/containers/c1/kill", "time=1", b""),
        _request(0, "/v1/containers/c1/logs", "tail=5", b""),
        _request(3, "/v1/containers/c1", "force=1", b""),
        _request(1, "/v1/messages", "", b'{"topic":"t","payload":"aGk=","encoding":"base64"}'),
        _request(1, "/v1/devices/gpio", "", b'{"alias":"led0","level":1}'),
        _request(1, "/v1/devices/sensors", "", b'{"name":"s","channel":1,"value":2.5}'),
        _request(2, "/v1/images/two", "", runnable_module()),
        _request(0, "/v1/info", "", b""),
    ]


def check(data: bytes) -> None:
    from ocre_py.daemon import api

    if not data:
        return
    method = METHODS[data[0] % len(METHODS)]
    path, _, rest = data[1:].partition(b"\0")
    query, _, body = rest.partition(b"\0")
    text_path, text_query = path.decode("utf-8", "replace"), query.decode("utf-8", "replace")
    if "/wait" in text_path:
        return  # waits block by design on a running container; not a parser
    reply = api.dispatch(_daemon(), method, text_path, text_query, lambda limit: body[:limit])
    if isinstance(reply, api.Reply):
        assert reply.status < 500 or (isinstance(reply.body, dict) and "error" in reply.body), reply


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_daemon_api"))
