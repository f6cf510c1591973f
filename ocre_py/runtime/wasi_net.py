"""WAMR's socket extension on wasmtime: one fd table the guest sees, shared by wasmtime's WASI and ours.

wasmtime's WASI has no socket API and cannot adopt host sockets, so socket fds live in our
:class:`~ocre_py.runtime.sockets.SocketTable`, numbered from ``SOCKET_FD_BASE`` (far above the fds
wasmtime hands out). The WASI functions that can meet a socket fd (``fd_read``, ``fd_write``,
``fd_close``, ``fd_fdstat_get``, ``fd_fdstat_set_flags``, ``poll_oneoff``, ``sock_accept``,
``sock_recv``, ``sock_send``, ``sock_shutdown``) are shadowed in the container's linker: a socket fd
is served here, any other fd is forwarded to wasmtime's own implementation.

Forwarding needs a trick: wasmtime's WASI functions read the *calling instance's* exported
``memory``, and a host function called straight from Python has no calling instance. So each run
instantiates a tiny shim module that imports the guest's memory (and re-exports it as ``memory``)
and wasmtime's original functions (taken from a WASI-only linker), and exports one wrapper per
function that just calls its import: called through the shim, wasmtime sees the shim as the caller
and the guest's memory as its memory.

Only modules that import one of the extension's own functions (``sock_open`` …) get any of this; any
other module links wasmtime's WASI untouched.
"""

from __future__ import annotations

import fcntl
import logging
import select
import struct
import termios
import time
from collections.abc import Callable
from typing import Any

import wasmtime

from ocre_py.runtime import sockets as S
from ocre_py.runtime.guestmem import GuestMemory

log = logging.getLogger(__name__)

WASI = "wasi_snapshot_preview1"
_I32, _I64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()

#: The standard WASI functions shadowed when a module uses sockets: name → parameter count.
SHADOWED = {
    "fd_read": 4, "fd_write": 4, "fd_close": 1, "fd_fdstat_get": 2, "fd_fdstat_set_flags": 2,
    "poll_oneoff": 4, "sock_accept": 3, "sock_recv": 6, "sock_send": 5, "sock_shutdown": 2,
}  # fmt: skip

# Socket options: name → (level, optname, kind). Kinds: bool, size (u32), u32, u8.
_SOL, _TCP, _IP, _IP6 = 1, 6, 0, 41  # SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6 (Linux)
OPTIONS: dict[str, tuple[int, int, str]] = {
    "reuse_addr": (_SOL, 2, "bool"), "reuse_port": (_SOL, 15, "bool"), "keep_alive": (_SOL, 9, "bool"),
    "broadcast": (_SOL, 6, "bool"), "recv_buf_size": (_SOL, 8, "size"), "send_buf_size": (_SOL, 7, "size"),
    "tcp_no_delay": (_TCP, 1, "bool"), "tcp_quick_ack": (_TCP, 12, "bool"),
    "tcp_fastopen_connect": (_TCP, 30, "bool"), "tcp_keep_idle": (_TCP, 4, "u32"),
    "tcp_keep_intvl": (_TCP, 5, "u32"), "ip_ttl": (_IP, 2, "u8"), "ip_multicast_ttl": (_IP, 33, "u8"),
    "ipv6_only": (_IP6, 26, "bool"),
}  # fmt: skip
_OUT_SIZE = {"bool": 1, "size": 4, "u32": 4, "u8": 1}

#: WAMR's own imports (signatures as in libc_wasi_wrapper.c's REG_NATIVE_FUNC table).
EXTENSION: dict[str, str] = {
    "sock_open": "(iii*)i", "sock_bind": "(i*)i", "sock_connect": "(i*)i", "sock_listen": "(ii)i",
    "sock_addr_local": "(i*)i", "sock_addr_remote": "(i*)i", "sock_addr_resolve": "($$**i*)i",
    "sock_send_to": "(i*ii**)i", "sock_recv_from": "(i*ii**)i", "sock_close": "(i)i",
    "sock_set_recv_timeout": "(iI)i", "sock_get_recv_timeout": "(i*)i",
    "sock_set_send_timeout": "(iI)i", "sock_get_send_timeout": "(i*)i",
    "sock_set_linger": "(iii)i", "sock_get_linger": "(i**)i",
    "sock_set_ip_multicast_loop": "(iii)i", "sock_get_ip_multicast_loop": "(ii*)i",
    "sock_set_ip_add_membership": "(i*i)i", "sock_set_ip_drop_membership": "(i*i)i",
    **{f"sock_set_{n}": "(ii)i" for n in OPTIONS}, **{f"sock_get_{n}": "(i*)i" for n in OPTIONS},
}  # fmt: skip

FILETYPE_SOCKET_DGRAM, FILETYPE_SOCKET_STREAM = 5, 6
FDFLAGS_NONBLOCK = 4
RIGHTS_ALL = (1 << 29) - 1
SUBSCRIPTION_SIZE, EVENT_SIZE = 48, 32
EVENTTYPE_CLOCK, EVENTTYPE_FD_READ, EVENTTYPE_FD_WRITE = 0, 1, 2


def _functype(signature: str) -> wasmtime.FuncType:
    params, _, result = signature[1:].partition(")")
    return wasmtime.FuncType([_I64 if c == "I" else _I32 for c in params], [_I32 for _ in result])


def uses_sockets(imports: tuple[tuple[str, str], ...]) -> bool:
    return any(module == WASI and name in EXTENSION for module, name in imports)


def _shim_wat(names: list[str]) -> str:
    lines = ['(module (import "env" "memory" (memory 0)) (export "memory" (memory 0))']
    for i, name in enumerate(names):
        n = SHADOWED[name]
        params = " ".join(["i32"] * n)
        lines.append(f'(import "w" "{name}" (func $f{i} (param {params}) (result i32)))')
    for i, name in enumerate(names):
        n = SHADOWED[name]
        params = " ".join(["i32"] * n)
        args = " ".join(f"(local.get {k})" for k in range(n))
        lines.append(f'(func (export "{name}") (param {params}) (result i32) (call $f{i} {args}))')
    return "\n".join([*lines, ")"])


class WasiNet:
    """The socket extension of one container: linker definitions at create time, a table per run."""

    def __init__(self, pool: S.AddrPool) -> None:
        self.pool = pool
        self.table: S.SocketTable | None = None
        self.mem: GuestMemory | None = None
        self._fwd: dict[str, wasmtime.Func] = {}
        self._shadowed: list[str] = []
        self._wasi_linker: wasmtime.Linker | None = None
        self._shim: wasmtime.Module | None = None
        self._checkpoint: Callable[[], None] = lambda: None

    # ---- create time -------------------------------------------------------------------------
    def define(
        self, linker: wasmtime.Linker, engine: wasmtime.Engine, imports: tuple[tuple[str, str], ...]
    ) -> bool:
        """Define the extension and shadow WASI's fd functions; False (nothing defined) for a module
        that does not import the extension."""
        if not uses_sockets(imports):
            return False
        imported = {name for module, name in imports if module == WASI}
        self._shadowed = [n for n in SHADOWED if n in imported]
        self._wasi_linker = wasmtime.Linker(engine)
        self._wasi_linker.define_wasi()
        self._shim = wasmtime.Module(engine, _shim_wat(self._shadowed)) if self._shadowed else None
        for name in self._shadowed:
            linker.define_func(WASI, name, _functype("(" + "i" * SHADOWED[name] + ")i"),
                               self._host(getattr(self, "_" + name)), access_caller=True)  # fmt: skip
        for name, sig in EXTENSION.items():
            if name not in imported:
                continue
            if name.startswith(("sock_set_", "sock_get_")) and name[9:] in OPTIONS:
                method = self._option(name[5:8] == "set", name[9:])
            else:
                method = getattr(self, "_" + name)
            linker.define_func(WASI, name, _functype(sig), self._host(method), access_caller=True)
        return True

    def _host(self, method: Callable[..., int]) -> Callable[..., int]:
        def call(caller: wasmtime.Caller, *args: int) -> int:
            self._checkpoint()
            return method(caller, *args)

        return call

    # ---- per run -----------------------------------------------------------------------------
    def attach(self, store: wasmtime.Store, memory: wasmtime.Memory, checkpoint: Callable[[], None]) -> None:
        self._checkpoint = checkpoint
        self.mem = GuestMemory(memory)
        self.table = S.SocketTable(self.pool, checkpoint)
        self._fwd = {}
        if self._shim is not None and self._wasi_linker is not None:
            originals: list[wasmtime.Func | wasmtime.Memory] = [memory]
            for name in self._shadowed:
                original = self._wasi_linker.get(store, WASI, name)
                assert isinstance(original, wasmtime.Func)
                originals.append(original)
            shim = wasmtime.Instance(store, self._shim, originals)
            exports = shim.exports(store)
            for name in self._shadowed:
                func = exports[name]
                assert isinstance(func, wasmtime.Func)
                self._fwd[name] = func

    def detach(self) -> None:
        if self.table is not None:
            self.table.close_all()
        self.table = self.mem = None
        self._fwd = {}
        self._checkpoint = lambda: None

    # ---- helpers -----------------------------------------------------------------------------
    def _t(self) -> S.SocketTable:
        if self.table is None:  # a call before the run's memory is known (a start function)
            self.table = S.SocketTable(self.pool, self._checkpoint)
        return self.table

    def _m(self, caller: wasmtime.Caller) -> GuestMemory:
        if self.mem is None:
            memory = caller.get("memory")
            assert isinstance(memory, wasmtime.Memory)
            self.mem = GuestMemory(memory)
        return self.mem

    def _ok(self, caller: wasmtime.Caller, ptr: int, size: int) -> bool:
        return self._m(caller).fits(caller, ptr, size)

    def _put(self, caller: wasmtime.Caller, ptr: int, fmt: str, *values: int) -> None:
        self._m(caller).write(caller, ptr, struct.pack(fmt, *values))

    def _iovecs(self, caller: wasmtime.Caller, ptr: int, count: int) -> list[tuple[int, int]] | None:
        """(offset, length) of each iovec, or None when any lies outside memory (WAMR: EINVAL)."""
        count &= 0xFFFFFFFF
        if not self._ok(caller, ptr, 8 * count):
            return None
        raw = self._m(caller).read(caller, ptr, 8 * count)
        vecs = list(struct.iter_unpack("<II", raw))
        return vecs if all(self._ok(caller, p, n) for p, n in vecs) else None

    def _gather(self, caller: wasmtime.Caller, vecs: list[tuple[int, int]]) -> bytes:
        mem = self._m(caller)
        return b"".join(mem.read(caller, p, n) for p, n in vecs)

    def _scatter(self, caller: wasmtime.Caller, vecs: list[tuple[int, int]], data: bytes) -> None:
        mem = self._m(caller)
        for p, n in vecs:
            if not data:
                break
            mem.write(caller, p, data[:n])
            data = data[n:]

    def _forward(self, name: str, caller: wasmtime.Caller, *args: int) -> int:
        result = self._fwd[name](caller, *args)
        assert isinstance(result, int)
        return result

    # ---- shadowed WASI functions -------------------------------------------------------------
    def _fd_read(self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, nread: int) -> int:
        if fd not in self._t():
            return self._forward("fd_read", caller, fd, iovs, n, nread)
        return self._recv(caller, fd, iovs, n, nread, 0)

    def _fd_write(self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, nwritten: int) -> int:
        if fd not in self._t():
            return self._forward("fd_write", caller, fd, iovs, n, nwritten)
        return self._send(caller, fd, iovs, n, nwritten, None)

    def _fd_close(self, caller: wasmtime.Caller, fd: int) -> int:
        if fd not in self._t():
            return self._forward("fd_close", caller, fd)
        return self._t().close(fd)

    def _fd_fdstat_get(self, caller: wasmtime.Caller, fd: int, buf: int) -> int:
        hs = self._t().get(fd)
        if hs is None:
            return self._forward("fd_fdstat_get", caller, fd, buf)
        if not self._ok(caller, buf, 24):
            return S.EINVAL
        kind = FILETYPE_SOCKET_STREAM if hs.stream else FILETYPE_SOCKET_DGRAM
        flags = FDFLAGS_NONBLOCK if hs.nonblocking else 0
        self._put(caller, buf, "<BxHxxxxQQ", kind, flags, RIGHTS_ALL, RIGHTS_ALL)
        return S.ESUCCESS

    def _fd_fdstat_set_flags(self, caller: wasmtime.Caller, fd: int, flags: int) -> int:
        hs = self._t().get(fd)
        if hs is None:
            return self._forward("fd_fdstat_set_flags", caller, fd, flags)
        hs.nonblocking = bool(flags & FDFLAGS_NONBLOCK)
        return S.ESUCCESS

    def _sock_accept(self, caller: wasmtime.Caller, fd: int, flags: int, fd_new: int) -> int:
        if fd not in self._t():
            return self._forward("sock_accept", caller, fd, flags, fd_new)
        if not self._ok(caller, fd_new, 4):
            return S.EINVAL
        err, new = self._t().accept(fd)
        if not err:
            self._put(caller, fd_new, "<I", new)
        return err

    def _sock_recv(
        self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, flags: int, nread: int, roflags: int
    ) -> int:
        if fd not in self._t():
            return self._forward("sock_recv", caller, fd, iovs, n, flags, nread, roflags)
        if not self._ok(caller, roflags, 2):
            return S.EINVAL
        return self._recv(caller, fd, iovs, n, nread, 0)

    def _sock_send(self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, flags: int, nsent: int) -> int:
        if fd not in self._t():
            return self._forward("sock_send", caller, fd, iovs, n, flags, nsent)
        return self._send(caller, fd, iovs, n, nsent, None)

    def _sock_shutdown(self, caller: wasmtime.Caller, fd: int, how: int) -> int:
        if fd not in self._t():
            return self._forward("sock_shutdown", caller, fd, how)
        return self._t().shutdown(fd, how)

    def _recv(self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, nread: int, src: int) -> int:
        if not self._ok(caller, nread, 4) or (src and not self._ok(caller, src, S.ADDR_SIZE)):
            return S.EINVAL
        vecs = self._iovecs(caller, iovs, n)
        total = sum(length for _, length in vecs or ())
        if not vecs or total == 0:
            return S.EINVAL  # WAMR: no buffers, or buffers of no size
        self._put(caller, nread, "<I", 0)
        err, data, addr = self._t().recv(fd, total, bool(src))
        if err:
            return err
        self._scatter(caller, vecs, data)
        self._put(caller, nread, "<I", len(data))
        if src and addr:
            self._m(caller).write(caller, src, addr)
        return S.ESUCCESS

    def _send(self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, nsent: int, dest: int | None) -> int:
        if not self._ok(caller, nsent, 4) or (dest is not None and not self._ok(caller, dest, S.ADDR_SIZE)):
            return S.EINVAL
        vecs = self._iovecs(caller, iovs, n)
        if vecs is None:
            return S.EINVAL
        data = self._gather(caller, vecs)
        addr = None if dest is None else self._m(caller).read(caller, dest, S.ADDR_SIZE)
        self._put(caller, nsent, "<I", 0)
        err, sent = self._t().send(fd, data, addr)
        self._put(caller, nsent, "<I", sent)
        return err

    # ---- poll_oneoff -------------------------------------------------------------------------
    def _poll_oneoff(self, caller: wasmtime.Caller, in_: int, out: int, nsubs: int, nevents: int) -> int:
        nsubs &= 0xFFFFFFFF
        table = self._t()
        if not table.sockets or not self._ok(caller, in_, SUBSCRIPTION_SIZE * nsubs):
            return self._forward("poll_oneoff", caller, in_, out, nsubs, nevents)
        raw = self._m(caller).read(caller, in_, SUBSCRIPTION_SIZE * nsubs)
        subs = [raw[i : i + SUBSCRIPTION_SIZE] for i in range(0, len(raw), SUBSCRIPTION_SIZE)]
        tags = [s[8] for s in subs]
        fds = [struct.unpack_from("<I", s, 16)[0] for s in subs]
        if not any(t != EVENTTYPE_CLOCK and fd in table for t, fd in zip(tags, fds, strict=True)):
            return self._forward("poll_oneoff", caller, in_, out, nsubs, nevents)
        if nsubs == 0 or not self._ok(caller, out, EVENT_SIZE * nsubs) or not self._ok(caller, nevents, 4):
            return S.EINVAL
        events = self._poll(subs, tags, fds)
        self._m(caller).write(caller, out, b"".join(events))
        self._put(caller, nevents, "<I", len(events))
        return S.ESUCCESS

    def _poll(self, subs: list[bytes], tags: list[int], fds: list[int]) -> list[bytes]:
        """Wait for the first ready subscription. A non-socket fd among socket fds counts as ready
        (as wasmtime counts regular files), so such a mixed poll never blocks on it."""
        table = self._t()
        now = time.monotonic()
        clocks: dict[int, float] = {}  # subscription index → its deadline
        for i, (sub, tag) in enumerate(zip(subs, tags, strict=True)):
            if tag == EVENTTYPE_CLOCK:
                clock_id, timeout, _precision, flags = struct.unpack_from("<IxxxxQQH", sub, 16)
                secs = timeout / 1e9
                if flags & 1:  # absolute time on that clock
                    secs -= time.time() if clock_id == 0 else time.monotonic()
                clocks[i] = now + max(secs, 0.0)
        deadline = min(clocks.values()) if clocks else None
        while True:
            events = []
            readers: list[Any] = []
            writers: list[Any] = []
            for sub, tag, fd in zip(subs, tags, fds, strict=True):
                hs = table.get(fd) if tag != EVENTTYPE_CLOCK else None
                if tag != EVENTTYPE_CLOCK and hs is None:
                    events.append(_event(sub, tag, 0, 0))
                elif hs is not None:
                    (writers if tag == EVENTTYPE_FD_WRITE else readers).append(hs.sock)
            left = S.WAIT_SLICE if deadline is None else min(S.WAIT_SLICE, deadline - time.monotonic())
            r, w, _ = select.select(readers, writers, [], 0 if events else max(left, 0.0))
            for sub, tag, fd in zip(subs, tags, fds, strict=True):
                hs = table.get(fd) if tag != EVENTTYPE_CLOCK else None
                if hs is not None and hs.sock in (w if tag == EVENTTYPE_FD_WRITE else r):
                    events.append(_event(sub, tag, 0, _pending(hs.sock) if tag == EVENTTYPE_FD_READ else 1))
            if not events and deadline is not None and time.monotonic() >= deadline:
                events = [_event(subs[i], EVENTTYPE_CLOCK, 0, 0) for i, d in clocks.items() if d <= deadline]
            if events:
                return events
            self._checkpoint()

    # ---- the extension -----------------------------------------------------------------------
    def _sock_open(self, caller: wasmtime.Caller, poolfd: int, af: int, socktype: int, fd_out: int) -> int:
        if not self._ok(caller, fd_out, 4):
            return S.EINVAL
        err, fd = self._t().open(af, socktype)
        if not err:
            self._put(caller, fd_out, "<I", fd)
        return err

    def _addr(self, caller: wasmtime.Caller, ptr: int) -> bytes | None:
        return self._m(caller).read(caller, ptr, S.ADDR_SIZE) if self._ok(caller, ptr, S.ADDR_SIZE) else None

    def _sock_bind(self, caller: wasmtime.Caller, fd: int, addr: int) -> int:
        data = self._addr(caller, addr)
        return S.EINVAL if data is None else self._t().bind(fd, data)

    def _sock_connect(self, caller: wasmtime.Caller, fd: int, addr: int) -> int:
        data = self._addr(caller, addr)
        return S.EINVAL if data is None else self._t().connect(fd, data)

    def _sock_listen(self, caller: wasmtime.Caller, fd: int, backlog: int) -> int:
        return self._t().listen(fd, backlog)

    def _sock_close(self, caller: wasmtime.Caller, fd: int) -> int:
        return S.ENOSYS  # as WAMR: close() goes through fd_close

    def _address(self, caller: wasmtime.Caller, fd: int, ptr: int, remote: bool) -> int:
        if not self._ok(caller, ptr, S.ADDR_SIZE):
            return S.EINVAL
        err, data = self._t().address(fd, remote)
        if not err:
            self._m(caller).write(caller, ptr, data)
        return err

    def _sock_addr_local(self, caller: wasmtime.Caller, fd: int, ptr: int) -> int:
        return self._address(caller, fd, ptr, False)

    def _sock_addr_remote(self, caller: wasmtime.Caller, fd: int, ptr: int) -> int:
        return self._address(caller, fd, ptr, True)

    def _sock_addr_resolve(
        self, caller: wasmtime.Caller, host: int, service: int, hints: int, info: int, size: int, max_out: int
    ) -> int:
        mem = self._m(caller)
        host_b, service_b = mem.cstr(caller, host, "host"), mem.cstr(caller, service, "service")
        size &= 0xFFFFFFFF
        if not (self._ok(caller, hints, S.HINTS_SIZE) and self._ok(caller, info, S.ADDR_INFO_SIZE * size)):
            return S.EINVAL
        if not self._ok(caller, max_out, 4):
            return S.EINVAL
        name = host_b.decode("utf-8", "replace")
        if not self.pool.may_resolve(name):
            return S.EACCES
        err, found = S.resolve(
            name, service_b.decode("utf-8", "replace"), mem.read(caller, hints, S.HINTS_SIZE)
        )
        if err:
            return err
        self._put(caller, max_out, "<I", len(found))
        data = b"".join(addr + struct.pack("<i", typ) for addr, typ in found[:size])
        if data:
            mem.write(caller, info, data)
        return S.ESUCCESS

    def _sock_send_to(
        self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, flags: int, dest: int, nsent: int
    ) -> int:
        return self._send(caller, fd, iovs, n, nsent, dest)

    def _sock_recv_from(
        self, caller: wasmtime.Caller, fd: int, iovs: int, n: int, flags: int, src: int, nread: int
    ) -> int:
        if src == 0:
            return S.EINVAL
        return self._recv(caller, fd, iovs, n, nread, src)

    # -- options --
    def _setsockopt(self, fd: int, level: int, opt: int, value: int | bytes) -> int:
        hs = self._t().get(fd)
        if hs is None:
            return S.EBADF
        try:
            hs.sock.setsockopt(level, opt, value)
        except OSError as exc:
            return S.wasi_errno(exc)
        return S.ESUCCESS

    def _getsockopt(self, fd: int, level: int, opt: int, size: int = 0) -> tuple[int, Any]:
        hs = self._t().get(fd)
        if hs is None:
            return S.EBADF, 0
        try:
            return S.ESUCCESS, hs.sock.getsockopt(level, opt, size) if size else hs.sock.getsockopt(
                level, opt
            )
        except OSError as exc:
            return S.wasi_errno(exc), 0

    def _option(self, setter: bool, name: str) -> Callable[..., int]:
        level, opt, kind = OPTIONS[name]
        if setter:

            def set_option(caller: wasmtime.Caller, fd: int, value: int) -> int:
                value &= 0xFFFFFFFF
                if kind == "bool":
                    value = int(bool(value & 0xFF))
                return self._setsockopt(fd, level, opt, value)

            return set_option

        def get_option(caller: wasmtime.Caller, fd: int, ptr: int) -> int:
            size = _OUT_SIZE[kind]
            if not self._ok(caller, ptr, size):
                return S.EINVAL
            err, value = self._getsockopt(fd, level, opt)
            if not err:
                self._put(
                    caller, ptr, "<B" if size == 1 else "<I", int(bool(value)) if kind == "bool" else value
                )
            return err

        return get_option

    def _timeout(self, fd: int, send: bool, value: int | None) -> tuple[int, int]:
        hs = self._t().get(fd)
        if hs is None:
            return S.EBADF, 0
        if value is not None:
            if send:
                hs.send_timeout_us = value & 0xFFFFFFFFFFFFFFFF
            else:
                hs.recv_timeout_us = value & 0xFFFFFFFFFFFFFFFF
        return S.ESUCCESS, hs.send_timeout_us if send else hs.recv_timeout_us

    def _get_timeout(self, caller: wasmtime.Caller, fd: int, ptr: int, send: bool) -> int:
        if not self._ok(caller, ptr, 8):
            return S.EINVAL
        err, value = self._timeout(fd, send, None)
        if not err:
            self._put(caller, ptr, "<Q", value)
        return err

    def _sock_set_recv_timeout(self, caller: wasmtime.Caller, fd: int, us: int) -> int:
        return self._timeout(fd, False, us)[0]

    def _sock_set_send_timeout(self, caller: wasmtime.Caller, fd: int, us: int) -> int:
        return self._timeout(fd, True, us)[0]

    def _sock_get_recv_timeout(self, caller: wasmtime.Caller, fd: int, ptr: int) -> int:
        return self._get_timeout(caller, fd, ptr, False)

    def _sock_get_send_timeout(self, caller: wasmtime.Caller, fd: int, ptr: int) -> int:
        return self._get_timeout(caller, fd, ptr, True)

    def _sock_set_linger(self, caller: wasmtime.Caller, fd: int, enabled: int, secs: int) -> int:
        return self._setsockopt(fd, _SOL, 13, struct.pack("=ii", int(bool(enabled & 0xFF)), secs))

    def _sock_get_linger(self, caller: wasmtime.Caller, fd: int, enabled_ptr: int, secs_ptr: int) -> int:
        if not (self._ok(caller, enabled_ptr, 1) and self._ok(caller, secs_ptr, 4)):
            return S.EINVAL
        err, raw = self._getsockopt(fd, _SOL, 13, 8)
        if not err:
            onoff, secs = struct.unpack("=ii", raw)
            self._put(caller, enabled_ptr, "<B", int(bool(onoff)))
            self._put(caller, secs_ptr, "<i", secs)
        return err

    def _sock_set_ip_multicast_loop(self, caller: wasmtime.Caller, fd: int, ipv6: int, enabled: int) -> int:
        level, opt = (_IP6, 19) if ipv6 & 0xFF else (_IP, 34)
        return self._setsockopt(fd, level, opt, int(bool(enabled & 0xFF)))

    def _sock_get_ip_multicast_loop(self, caller: wasmtime.Caller, fd: int, ipv6: int, ptr: int) -> int:
        if not self._ok(caller, ptr, 1):
            return S.EINVAL
        level, opt = (_IP6, 19) if ipv6 & 0xFF else (_IP, 34)
        err, value = self._getsockopt(fd, level, opt)
        if not err:
            self._put(caller, ptr, "<B", int(bool(value)))
        return err

    def _membership(self, caller: wasmtime.Caller, fd: int, addr: int, interface: int, add: bool) -> int:
        if not self._ok(caller, addr, S.ADDR_IP_SIZE):
            return S.EINVAL
        ip = S.decode_addr_ip(self._m(caller).read(caller, addr, S.ADDR_IP_SIZE))
        if ip is None:
            return S.EINVAL
        if ip.version == 4:
            return self._setsockopt(
                fd, _IP, 35 if add else 36, ip.packed + struct.pack("=I", interface & 0xFFFFFFFF)
            )
        return self._setsockopt(
            fd, _IP6, 20 if add else 21, ip.packed + struct.pack("=I", interface & 0xFFFFFFFF)
        )

    def _sock_set_ip_add_membership(self, caller: wasmtime.Caller, fd: int, addr: int, interface: int) -> int:
        return self._membership(caller, fd, addr, interface, True)

    def _sock_set_ip_drop_membership(
        self, caller: wasmtime.Caller, fd: int, addr: int, interface: int
    ) -> int:
        return self._membership(caller, fd, addr, interface, False)


def _event(sub: bytes, tag: int, error: int, nbytes: int) -> bytes:
    return sub[:8] + struct.pack("<HBxxxxxQHxxxxxx", error, tag, nbytes, 0)


def _pending(sock: Any) -> int:
    try:
        buf = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("i", buf)[0])
    except OSError:
        return 0
