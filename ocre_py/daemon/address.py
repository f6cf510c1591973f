"""Where a daemon listens and where clients connect: ``-H unix://PATH|tcp://HOST:PORT`` or ``$OCRE_HOST``.

Precedence (the same for ``ocre daemon`` and every client verb): the ``-H`` flag, then ``$OCRE_HOST``,
then the Unix socket ``<workdir>/ocre.sock`` of the default working directory. :func:`resolve`
returns the address with that origin so errors can cite it.

Unix socket paths are limited to 107 bytes by the kernel; deep temp directories exceed that, so
long paths are reached through ``/proc/self/fd/<dirfd>/<name>`` of an ``O_PATH`` handle on the
directory (Linux only), for both bind and connect.

Every client command parses an address before it does anything else, so this module imports only
:mod:`os` (issue 14: ``ocre ps`` in 2.5× an empty interpreter): a Unix path is a string, not a
:class:`~pathlib.Path` (~7 ms to import), and :class:`Address` is a :class:`~ocre_py.values.Value`,
not a dataclass.
"""

from __future__ import annotations

import contextlib
import os

from ocre_py.errors import InvalidInput
from ocre_py.values import Value
from ocre_py.workdir import workdir_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import socket
    from collections.abc import Iterator

SOCKET_NAME = "ocre.sock"
_MAX_SUN_PATH = 100  # sun_path is 108 bytes with the NUL; keep a margin
_EXPECTED = "unix://PATH or tcp://HOST:PORT"


class Address(Value):
    """A parsed daemon address: ``kind`` is ``unix`` (``path``) or ``tcp`` (``host``, ``port``).

    ``path`` is kept as a string whatever path-like object it was given as, so
    ``Address("unix", path=Path(p)) == parse(f"unix://{p}")``.
    """

    __slots__ = ("host", "kind", "path", "port")

    def __init__(
        self, kind: str, path: str | os.PathLike[str] | None = None, host: str = "", port: int = 0
    ) -> None:
        self.kind = kind
        self.path = None if path is None else os.fspath(path)
        self.host = host
        self.port = port

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
        return Address("unix", path=_absolute(path))
    if text.startswith("tcp://"):
        rest = text[len("tcp://") :].rstrip("/")
        host, sep, port = rest.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            # Port 0 only makes sense for `ocre daemon` (the kernel picks; daemon.json tells which).
            raise InvalidInput.field(source, "daemon address", text, "tcp://HOST:PORT with a port 0..65535")
        return Address("tcp", host=host, port=int(port))
    raise InvalidInput.field(source, "daemon address", text, _EXPECTED)


def _absolute(path: str) -> str:
    """``Path(path).absolute()`` as text: joined to the cwd, ``.`` parts and doubled slashes gone,
    ``..`` kept (it may cross a symlink)."""
    parts = [p for p in os.path.join(os.getcwd(), path).split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


def default_address(workdir: str | os.PathLike[str] | None = None) -> Address:
    where = os.fspath(workdir) if workdir is not None else workdir_text()[0]
    return Address("unix", path=os.path.join(_absolute(where), SOCKET_NAME))


def resolve(flag: str | None, workdir: str | os.PathLike[str] | None = None) -> tuple[Address, str]:
    """The address to use and where it came from (``-H``, ``$OCRE_HOST`` or the default socket)."""
    if flag:
        return parse(flag, source="-H"), "-H"
    env = os.environ.get("OCRE_HOST")
    if env:
        return parse(env, source="$OCRE_HOST"), "$OCRE_HOST"
    return default_address(workdir), "default socket"


@contextlib.contextmanager
def short_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """A path to ``path`` the kernel accepts in ``sun_path`` (see the module docstring)."""
    text = os.fspath(path)
    if len(text.encode()) <= _MAX_SUN_PATH:
        yield text
        return
    parent, name = os.path.split(text)
    fd = os.open(parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{name}"
    finally:
        os.close(fd)


def connect_unix(path: str | os.PathLike[str], timeout: float | None) -> socket.socket:
    """A :class:`socket.socket` connected to the Unix socket at ``path``."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connect_socket(sock, path, timeout)
    return sock


def connect_socket(sock: _socket.socket, path: str | os.PathLike[str], timeout: float | None) -> None:
    """Connect ``sock`` (an ``AF_UNIX`` stream socket of any socket class) to ``path``, with
    ``timeout``; on failure it is closed and the error raised."""
    sock.settimeout(timeout)
    try:
        with short_path(path) as target:
            sock.connect(target)
    except BaseException:
        sock.close()
        raise
