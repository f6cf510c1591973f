"""Host sockets behind WAMR's socket extension: the address pool, the wire layouts, the socket table.

Nothing here knows wasmtime: operations take and return plain values and WASI errno numbers;
``wasi_net`` reads and writes guest memory around them. Layouts and semantics follow WAMR's
``wasi_socket_ext.h`` and ``libc-wasi/sandboxed-system-primitives/src/posix.c``.
"""

from __future__ import annotations

import errno as host_errno
import ipaddress
import select
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from ocre_py.runtime.spec import parse_addr_pool

# WASI errno values in the order of wasi_snapshot_preview1's ``errno`` enum (0 = success).
_WASI_ERRNO_NAMES = """
SUCCESS E2BIG EACCES EADDRINUSE EADDRNOTAVAIL EAFNOSUPPORT EAGAIN EALREADY EBADF EBADMSG EBUSY
ECANCELED ECHILD ECONNABORTED ECONNREFUSED ECONNRESET EDEADLK EDESTADDRREQ EDOM EDQUOT EEXIST
EFAULT EFBIG EHOSTUNREACH EIDRM EILSEQ EINPROGRESS EINTR EINVAL EIO EISCONN EISDIR ELOOP EMFILE
EMLINK EMSGSIZE EMULTIHOP ENAMETOOLONG ENETDOWN ENETRESET ENETUNREACH ENFILE ENOBUFS ENODEV
ENOENT ENOEXEC ENOLCK ENOLINK ENOMEM ENOMSG ENOPROTOOPT ENOSPC ENOSYS ENOTCONN ENOTDIR ENOTEMPTY
ENOTRECOVERABLE ENOTSOCK ENOTSUP ENOTTY ENXIO EOVERFLOW EOWNERDEAD EPERM EPIPE EPROTO
EPROTONOSUPPORT EPROTOTYPE ERANGE EROFS ESPIPE ESRCH ESTALE ETIMEDOUT ETXTBSY EXDEV ENOTCAPABLE
""".split()  # noqa: SIM905  (the enum's order, readable as a block)
WASI_ERRNO = {name: i for i, name in enumerate(_WASI_ERRNO_NAMES)}
ESUCCESS = 0
EACCES, EAGAIN, EBADF = WASI_ERRNO["EACCES"], WASI_ERRNO["EAGAIN"], WASI_ERRNO["EBADF"]
EINVAL, EMFILE, ENOSYS = WASI_ERRNO["EINVAL"], WASI_ERRNO["EMFILE"], WASI_ERRNO["ENOSYS"]
EPROTONOSUPPORT, ENOTSOCK = WASI_ERRNO["EPROTONOSUPPORT"], WASI_ERRNO["ENOTSOCK"]
ENOPROTOOPT, ENOMEM = WASI_ERRNO["ENOPROTOOPT"], WASI_ERRNO["ENOMEM"]

#: Socket fds are numbered from here, far above anything wasmtime's own table hands out.
SOCKET_FD_BASE = 0x4000_0000
MAX_SOCKETS = 1024  # per container: beyond it sock_open/sock_accept answer EMFILE
WAIT_SLICE = 0.1  # seconds a blocking call waits between kill/pause checks

# Layouts (wasm32, little-endian).
ADDR_SIZE = 24  # __wasi_addr_t: u32 kind; union {ip4: u8 n0..n3, u16 port; ip6: u16 x8, u16 port}
ADDR_IP_SIZE = 20  # __wasi_addr_ip_t: u32 kind; union {u8 x4; u16 x8}
ADDR_INFO_SIZE = 28  # __wasi_addr_info_t: __wasi_addr_t addr; i32 type
HINTS_SIZE = 12  # __wasi_addr_info_hints_t: i32 type; i32 family; u8 hints_enabled
IPV4, IPV6 = 0, 1  # __wasi_addr_type_t
INET4, INET6, INET_UNSPEC = 0, 1, 2  # __wasi_address_family_t
SOCKET_ANY, SOCKET_DGRAM, SOCKET_STREAM = -1, 0, 1  # __wasi_sock_type_t

_T = TypeVar("_T")
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def wasi_errno(exc: OSError) -> int:
    """WAMR's ``convert_errno``: the WASI errno of the same name, ENOSYS for anything unnamed."""
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return EAGAIN
    name = host_errno.errorcode.get(exc.errno or 0, "")
    if name == "EWOULDBLOCK":
        name = "EAGAIN"
    return WASI_ERRNO.get(name, ENOSYS)


# ---- the address pool (WAMR's --addr-pool) -----------------------------------------------------
@dataclass(frozen=True)
class AddrPool:
    """Addresses a container may bind, connect and send to, and the host names it may resolve."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    ns_lookup: tuple[str, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str], ns_lookup: Iterable[str] = ("*",)) -> AddrPool:
        nets = tuple(ipaddress.ip_network(e, strict=False) for e in parse_addr_pool(entries))
        return cls(nets, tuple(ns_lookup))

    def allows(self, ip: IpAddress) -> bool:
        # WAMR: an entry whose address is all zeros (0.0.0.0, ::) admits any address of its family.
        return any(
            n.version == ip.version and (int(n.network_address) == 0 or ip in n) for n in self.networks
        )

    def may_resolve(self, host: str) -> bool:
        """WAMR's ``ns_lookup_list_search``: exact names, or ``*suffix`` patterns."""
        return any(host.endswith(p[1:]) if p.startswith("*") else p == host for p in self.ns_lookup)


# ---- __wasi_addr_t -----------------------------------------------------------------------------
def decode_addr(data: bytes) -> tuple[IpAddress, int] | None:
    """(address, port) of a ``__wasi_addr_t``; None for an unknown kind (WAMR: EPROTONOSUPPORT)."""
    kind = struct.unpack_from("<I", data)[0]
    if kind == IPV4:
        return ipaddress.IPv4Address(bytes(data[4:8])), struct.unpack_from("<H", data, 8)[0]
    if kind == IPV6:
        groups = struct.unpack_from("<8H", data, 4)
        return ipaddress.IPv6Address(struct.pack(">8H", *groups)), struct.unpack_from("<H", data, 20)[0]
    return None


def encode_addr(sockaddr: tuple[object, ...]) -> bytes:
    """A ``__wasi_addr_t`` for a Python socket address (``(host, port)`` or ``(host, port, flow, scope)``)."""
    ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
    port = int(sockaddr[1])  # type: ignore[call-overload]
    if ip.version == 4:
        return struct.pack("<I4sH", IPV4, ip.packed, port).ljust(ADDR_SIZE, b"\0")
    return struct.pack("<I8HH2x", IPV6, *struct.unpack(">8H", ip.packed), port)


def decode_addr_ip(data: bytes) -> IpAddress | None:
    kind = struct.unpack_from("<I", data)[0]
    if kind == IPV4:
        return ipaddress.IPv4Address(bytes(data[4:8]))
    if kind == IPV6:
        return ipaddress.IPv6Address(struct.pack(">8H", *struct.unpack_from("<8H", data, 4)))
    return None


def resolve(host: str, service: str, hints: bytes) -> tuple[int, list[tuple[bytes, int]]]:
    """WAMR's ``os_socket_addr_resolve``: (errno, [(__wasi_addr_t, socket type)]), TCP/UDP over IP only."""
    sock_type, family, enabled = struct.unpack_from("<iiB", hints)
    kwargs: dict[str, int] = {}
    if enabled and family != INET_UNSPEC:
        kwargs["family"] = socket.AF_INET if family == INET4 else socket.AF_INET6
    if enabled and sock_type != SOCKET_ANY:
        kwargs["type"] = socket.SOCK_STREAM if sock_type == SOCKET_STREAM else socket.SOCK_DGRAM
    try:
        infos = socket.getaddrinfo(host, service or None, **kwargs)
    except socket.gaierror as exc:
        code = {socket.EAI_AGAIN: "EAGAIN", socket.EAI_FAIL: "EFAULT", socket.EAI_MEMORY: "ENOMEM"}
        return WASI_ERRNO[code.get(exc.errno or 0, "EINVAL")], []
    except (OSError, UnicodeError):
        return EINVAL, []
    out = []
    for fam, typ, proto, _canon, addr in infos:
        if fam not in (socket.AF_INET, socket.AF_INET6) or typ not in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            continue
        if proto not in (0, socket.IPPROTO_TCP, socket.IPPROTO_UDP):
            continue
        out.append((encode_addr(addr), SOCKET_STREAM if typ == socket.SOCK_STREAM else SOCKET_DGRAM))
    return ESUCCESS, out


# ---- the table ---------------------------------------------------------------------------------
@dataclass
class HostSocket:
    sock: socket.socket
    stream: bool
    nonblocking: bool = False  # the guest's O_NONBLOCK; the host socket itself never blocks
    recv_timeout_us: int = 0  # 0 = wait forever (SO_RCVTIMEO semantics)
    send_timeout_us: int = 0
    bound: bool = False


class SocketTable:
    """One container run's sockets, numbered from :data:`SOCKET_FD_BASE`.

    ``checkpoint`` is called while a blocking call waits (every :data:`WAIT_SLICE`), so kill and
    pause reach a guest blocked in ``accept`` or ``recv``.
    """

    def __init__(self, pool: AddrPool, checkpoint: Callable[[], None]) -> None:
        self.pool = pool
        self.checkpoint = checkpoint
        self.sockets: dict[int, HostSocket] = {}
        self._next = SOCKET_FD_BASE

    def __contains__(self, fd: int) -> bool:
        return (fd & 0xFFFFFFFF) in self.sockets

    def get(self, fd: int) -> HostSocket | None:
        return self.sockets.get(fd & 0xFFFFFFFF)

    def _insert(self, sock: socket.socket, stream: bool) -> tuple[int, int]:
        if len(self.sockets) >= MAX_SOCKETS:
            sock.close()
            return EMFILE, 0
        sock.setblocking(False)
        while self._next in self.sockets:
            self._next += 1
        fd, self._next = self._next, self._next + 1
        self.sockets[fd] = HostSocket(sock, stream)
        return ESUCCESS, fd

    def close(self, fd: int) -> int:
        hs = self.sockets.pop(fd & 0xFFFFFFFF, None)
        if hs is None:
            return EBADF
        hs.sock.close()
        return ESUCCESS

    def close_all(self) -> None:
        for hs in self.sockets.values():
            hs.sock.close()
        self.sockets.clear()

    # -- blocking emulation --
    def wait(self, hs: HostSocket, write: bool, timeout_us: int = 0) -> bool:
        """Wait until ``hs`` is ready (True) or its timeout passes (False); kill/pause interrupt."""
        deadline = time.monotonic() + timeout_us / 1e6 if timeout_us else None
        while True:
            self.checkpoint()
            left = WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - time.monotonic())
            if left <= 0:
                return False
            r, w, _ = select.select([] if write else [hs.sock], [hs.sock] if write else [], [], left)
            if r or w:
                return True

    def _blocking(self, hs: HostSocket, write: bool, op: Callable[[], _T], timeout_us: int = 0) -> _T:
        """Run a non-blocking ``op`` as the guest's blocking call would behave; OSError on failure."""
        while True:
            try:
                return op()
            except BlockingIOError:
                if hs.nonblocking or not self.wait(hs, write, timeout_us):
                    raise
            except InterruptedError:
                continue

    # -- operations (each returns a WASI errno first) --
    def open(self, af: int, socktype: int) -> tuple[int, int]:
        family = socket.AF_INET6 if af == INET6 else socket.AF_INET  # WAMR: anything else is IPv4
        stream = socktype != SOCKET_DGRAM
        try:
            if stream:
                sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            else:
                sock = socket.socket(family, socket.SOCK_DGRAM, 0)
        except OSError as exc:
            return wasi_errno(exc), 0
        return self._insert(sock, stream)

    def _target(self, data: bytes) -> tuple[int, tuple[str, int]]:
        decoded = decode_addr(data)
        if decoded is None:
            return EPROTONOSUPPORT, ("", 0)
        ip, port = decoded
        if not self.pool.allows(ip):
            return EACCES, ("", 0)
        return ESUCCESS, (str(ip), port)

    def _aimed(self, fd: int, addr: bytes) -> tuple[HostSocket, tuple[str, int]] | int:
        """The socket and the pool-checked target of a bind or connect, or the errno (pool first, as WAMR)."""
        err, target = self._target(addr)
        hs = self.get(fd)
        return err or EBADF if err or hs is None else (hs, target)

    def bind(self, fd: int, addr: bytes) -> int:
        aimed = self._aimed(fd, addr)
        if isinstance(aimed, int):
            return aimed
        hs, target = aimed
        try:
            # WAMR sets SO_LINGER {1, 0} so a restarted server can rebind at once; SO_REUSEADDR gives
            # the same without turning every close into a reset.
            hs.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            hs.sock.bind(target)
        except OSError as exc:
            return wasi_errno(exc)
        hs.bound = True
        return ESUCCESS

    def listen(self, fd: int, backlog: int) -> int:
        hs = self.get(fd)
        if hs is None:
            return EBADF
        if not hs.bound:  # Linux would bind the wildcard address: only if the pool admits it
            wildcard = ipaddress.ip_address("::" if hs.sock.family == socket.AF_INET6 else "0.0.0.0")
            if not self.pool.allows(wildcard):
                return EACCES
        try:
            hs.sock.listen(backlog & 0x7FFFFFFF)
        except OSError as exc:
            return wasi_errno(exc)
        hs.bound = True
        return ESUCCESS

    def accept(self, fd: int) -> tuple[int, int]:
        hs = self.get(fd)
        if hs is None:
            return EBADF, 0
        try:
            conn, _ = self._blocking(hs, False, hs.sock.accept, hs.recv_timeout_us)
        except OSError as exc:
            return wasi_errno(exc), 0
        return self._insert(conn, True)

    def connect(self, fd: int, addr: bytes) -> int:
        aimed = self._aimed(fd, addr)
        if isinstance(aimed, int):
            return aimed
        hs, target = aimed
        try:
            hs.sock.connect(target)
        except BlockingIOError:
            if hs.nonblocking:
                return WASI_ERRNO["EINPROGRESS"]
            if not self.wait(hs, True, hs.send_timeout_us):
                return WASI_ERRNO["EINPROGRESS"]
            code = hs.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            return wasi_errno(OSError(code, "")) if code else ESUCCESS
        except OSError as exc:
            return wasi_errno(exc)
        return ESUCCESS

    def address(self, fd: int, remote: bool) -> tuple[int, bytes]:
        hs = self.get(fd)
        if hs is None:
            return EBADF, b""
        try:
            return ESUCCESS, encode_addr(hs.sock.getpeername() if remote else hs.sock.getsockname())
        except OSError as exc:
            return wasi_errno(exc), b""

    def recv(self, fd: int, size: int, want_from: bool) -> tuple[int, bytes, bytes]:
        """(errno, data, __wasi_addr_t of the sender or b"")."""
        hs = self.get(fd)
        if hs is None:
            return EBADF, b"", b""
        try:
            data, src = self._blocking(hs, False, lambda: hs.sock.recvfrom(size), hs.recv_timeout_us)
        except OSError as exc:
            return wasi_errno(exc), b"", b""
        return ESUCCESS, data, encode_addr(src) if want_from and src else b""

    def send(self, fd: int, data: bytes, addr: bytes | None = None) -> tuple[int, int]:
        target: tuple[str, int] | None = None
        if addr is not None:
            err, target = self._target(addr)
            if err:
                return err, 0
        hs = self.get(fd)
        if hs is None:
            return EBADF, 0

        def op() -> int:
            flags = socket.MSG_NOSIGNAL
            return hs.sock.sendto(data, flags, target) if target else hs.sock.send(data, flags)

        try:
            return ESUCCESS, self._blocking(hs, True, op, hs.send_timeout_us)
        except OSError as exc:
            return wasi_errno(exc), 0

    def shutdown(self, fd: int, how: int) -> int:
        hs = self.get(fd)
        if hs is None:
            return EBADF
        # WASI sdflags: RD = 1, WR = 2. WAMR ignores them and always shuts both ways.
        mode = {1: socket.SHUT_RD, 2: socket.SHUT_WR}.get(how, socket.SHUT_RDWR)
        try:
            hs.sock.shutdown(mode)
        except OSError as exc:
            return wasi_errno(exc)
        return ESUCCESS
