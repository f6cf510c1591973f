"""Where a daemon listens and where clients connect: ``-H unix://PATH|tcp://HOST:PORT`` or ``$OCRE_HOST``.

Precedence (the same for ``ocre daemon`` and every client verb): the ``-H`` flag, then ``$OCRE_HOST``,
then the Unix socket ``<workdir>/ocre.sock`` of the default working directory. :func:`resolve`
returns the address with that origin so errors can cite it.

Unix socket paths are limited to 107 bytes by the kernel; deep temp directories exceed that, so
long paths are reached through ``/proc/self/fd/<dirfd>/<name>`` of an ``O_PATH`` handle on the
directory (Linux only), for both bind and connect.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ocre_py.errors import InvalidInput
from ocre_py.workdir import default_workdir

SOCKET_NAME = "ocre.sock"
_MAX_SUN_PATH = 100  # sun_path is 108 bytes with the NUL; keep a margin
_EXPECTED = "unix://PATH or tcp://HOST:PORT"


@dataclass(frozen=True)
class Address:
    """A parsed daemon address: ``kind`` is ``unix`` (``path``) or ``tcp`` (``host``, ``port``)."""

    kind: str
    path: Path | None = None
    host: str = ""
    port: int = 0

    @property
    def is_tcp(self) -> bool:
        return self.kind == "tcp"

    def __str__(self) -> str:
        return f"unix://{self.path}" if self.kind == "unix" else f"tcp://{self.host}:{self.port}"


def parse(text: str, *, source: str | None = "-H") -> Address:
    """``unix:///run/ocre.sock``, ``unix://rel/path.sock``, ``tcp://0.0.0.0:2375``, ``tcp://[::1]:2375``."""
    if text.startswith("unix://"):
        path = text[len("unix://") :]
        if not path:
            raise InvalidInput.field(source, "daemon address", text, _EXPECTED)
        return Address("unix", path=Path(path).absolute())
    if text.startswith("tcp://"):
        rest = text[len("tcp://") :].rstrip("/")
        host, sep, port = rest.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            # Port 0 only makes sense for `ocre daemon` (the kernel picks; daemon.json tells which).
            raise InvalidInput.field(source, "daemon address", text, "tcp://HOST:PORT with a port 0..65535")
        return Address("tcp", host=host, port=int(port))
    raise InvalidInput.field(source, "daemon address", text, _EXPECTED)


def default_address(workdir: Path | None = None) -> Address:
    return Address("unix", path=(workdir or default_workdir()[0]).absolute() / SOCKET_NAME)


def resolve(flag: str | None, workdir: Path | None = None) -> tuple[Address, str]:
    """The address to use and where it came from (``-H``, ``$OCRE_HOST`` or the default socket)."""
    if flag:
        return parse(flag, source="-H"), "-H"
    env = os.environ.get("OCRE_HOST")
    if env:
        return parse(env, source="$OCRE_HOST"), "$OCRE_HOST"
    return default_address(workdir), "default socket"


@contextlib.contextmanager
def short_path(path: Path) -> Iterator[str]:
    """A path to ``path`` the kernel accepts in ``sun_path`` (see the module docstring)."""
    text = str(path)
    if len(text.encode()) <= _MAX_SUN_PATH:
        yield text
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def connect_unix(path: Path, timeout: float | None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with short_path(path) as target:
            sock.connect(target)
    except BaseException:
        sock.close()
        raise
    return sock
