"""WAMR's socket extension on the Linux runtime, against real host sockets on loopback only.

The container (tests/containers/net.c) calls the extension's imports directly; the other end is a
Python socket on 127.0.0.1 or ::1. Every wait is bounded.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.runtime import ContainerSpec, Runtime
from ocre_py.runtime.sockets import WASI_ERRNO, AddrPool, decode_addr, encode_addr

from .conftest import Run

NET = ("networking",)
EACCES = WASI_ERRNO["EACCES"]
TIMEOUT = 20.0


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def net(build_test_container: Callable[..., Path]) -> Path:
    return build_test_container("net")


@pytest.fixture(params=[("4", "127.0.0.1"), ("6", "::1")], ids=["ipv4", "ipv6"])
def loopback(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(family argument of net.c, loopback address); IPv6 skips visibly where ::1 is missing."""
    if request.param[0] == "6" and not _ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    return request.param  # type: ignore[no-any-return]


def _finish(run: Run, runtime: Runtime) -> int:
    code = runtime.wait(run.container.id, timeout=TIMEOUT)
    assert code is not None, run.out
    return code


def _port(run: Run) -> int:
    run.wait_for("port=", TIMEOUT)
    run.wait_for("\n", TIMEOUT)
    return int(run.values()["port"])


def test_tcp_echo_server_in_container(
    net: Path, start: Callable[..., Run], runtime: Runtime, loopback: tuple[str, str]
) -> None:
    family, host = loopback
    run = start(net, "echo-server", family, caps=NET)
    with socket.create_connection((host, _port(run)), timeout=TIMEOUT) as s:
        s.sendall(b"hello, container")
        assert s.recv(100) == b"hello, container"
        s.sendall(b"again")
        assert s.recv(100) == b"again"
        s.shutdown(socket.SHUT_WR)
        assert _finish(run, runtime) == 0
    values = run.values()
    assert values["poll"] == "1 revents=1"  # poll_oneoff on a socket fd
    assert values["peer_kind"] == ("1" if family == "6" else "0")
    assert values["echoed"] == str(len(b"hello, container") + len(b"again"))


def _python_server(family: int, host: str) -> tuple[socket.socket, list[bytes]]:
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(1)
    srv.settimeout(TIMEOUT)
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            data = conn.recv(100)
            got.append(data)
            conn.sendall(data[::-1])
            got.append(conn.recv(100))  # b"" once the container shuts its side down

    threading.Thread(target=serve, daemon=True).start()
    return srv, got


def test_tcp_client_in_container(
    net: Path, start: Callable[..., Run], runtime: Runtime, loopback: tuple[str, str]
) -> None:
    family, host = loopback
    af = socket.AF_INET6 if family == "6" else socket.AF_INET
    srv, got = _python_server(af, host)
    with srv:
        run = start(net, "client", family, str(srv.getsockname()[1]), "abcdef", caps=NET)
        assert _finish(run, runtime) == 0, run.out
    assert run.values()["reply"] == "fedcba"
    assert got[0] == b"abcdef"


def test_udp_send_and_receive(net: Path, start: Callable[..., Run], runtime: Runtime) -> None:
    run = start(net, "udp-echo", caps=NET)
    port = _port(run)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(TIMEOUT)
        s.sendto(b"datagram", ("127.0.0.1", port))
        data, sender = s.recvfrom(100)
        assert data == b"DATAGRAM"
        assert sender == ("127.0.0.1", port)
        assert _finish(run, runtime) == 0
        assert run.values()["from"] == f"127.0.0.1:{s.getsockname()[1]} len=8"


def test_name_resolution_of_localhost(net: Path, start: Callable[..., Run], runtime: Runtime) -> None:
    run = start(net, "resolve", "localhost", caps=NET)
    assert _finish(run, runtime) == 0, run.out
    assert "addr=127.0.0.1 kind=0 type=1" in run.out


def test_socket_options(net: Path, start: Callable[..., Run], runtime: Runtime) -> None:
    run = start(net, "options", caps=NET)
    assert _finish(run, runtime) == 0, run.out
    values = run.values()
    assert values["reuse"] == "1 nodelay=1 timeout=1500000 rcvbuf_positive=1"
    assert values["ipv6_only_on_v4"] == str(WASI_ERRNO["ENOPROTOOPT"])
    assert values["bad_fd"] == str(WASI_ERRNO["EBADF"])


def test_without_the_capability_calls_answer_eacces(
    net: Path, start: Callable[..., Run], runtime: Runtime
) -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        run = start(net, "connect4", str(srv.getsockname()[1]))
        assert _finish(run, runtime) == 0, run.out  # an errno, never a trap
    values = run.values()
    assert (values["connect"], values["bind"], values["listen"]) == (str(EACCES),) * 3
    assert values["close"] == "0"
    resolved = start(net, "resolve", "localhost")
    assert _finish(resolved, runtime) == 1
    assert resolved.values()["resolve"] == str(EACCES)


def test_addr_pool_refuses_addresses_outside_it(
    net: Path, start: Callable[..., Run], runtime: Runtime
) -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = str(srv.getsockname()[1])
        refused = start(net, "connect4", port, caps=NET, addr_pool=("::1/128",))
        assert _finish(refused, runtime) == 0
        assert refused.values()["connect"] == str(EACCES)
        allowed = start(net, "connect4", port, caps=NET, addr_pool=("127.0.0.1/8",))
        assert _finish(allowed, runtime) == 0
        assert allowed.values()["connect"] == "0"


def test_kill_reaches_a_container_blocked_in_accept(
    net: Path, start: Callable[..., Run], runtime: Runtime
) -> None:
    run = start(net, "echo-server", "4", caps=NET)
    _port(run)
    runtime.kill(run.container.id)
    assert _finish(run, runtime) == 137


def test_addr_pool_spec_checks(tmp_path: Path) -> None:
    module = tmp_path / "x.wasm"
    with pytest.raises(InvalidInput, match="without the networking capability"):
        ContainerSpec(image="x", module_path=module, addr_pool=("127.0.0.1/8",)).validated()
    for bad in ("127.0.0.1", "127.0.0.1/33", "nonsense/8", "::1/129"):
        with pytest.raises(InvalidInput, match="address pool entry"):
            ContainerSpec(image="x", module_path=module, capabilities=NET, addr_pool=(bad,)).validated()


def test_addr_pool_matches_like_wamr() -> None:
    import ipaddress

    pool = AddrPool.of(["127.0.0.1/8", "0.0.0.0/32"])
    ip = ipaddress.ip_address
    assert pool.allows(ip("127.3.4.5"))
    assert pool.allows(ip("192.0.2.1"))  # WAMR: an all-zero address admits any of its family
    assert not pool.allows(ip("::1"))  # families never mix
    assert not AddrPool().allows(ip("127.0.0.1"))
    names = AddrPool.of([], ["*.example", "localhost"])
    assert names.may_resolve("a.example") and names.may_resolve("localhost")
    assert not names.may_resolve("localhost.evil")


def test_addr_layout_round_trip() -> None:
    for sockaddr in (("127.0.0.1", 8080), ("::1", 443, 0, 0), ("fe80::3ba2:893b:4be0:e3dd", 1)):
        data = encode_addr(sockaddr)
        assert len(data) == 24
        decoded = decode_addr(data)
        assert decoded is not None and (str(decoded[0]), decoded[1]) == sockaddr[:2]
    # wasi_socket_ext.h's example: 127.0.0.1 is {n0: 127, n1: 0, n2: 0, n3: 1}; the port in host order
    assert encode_addr(("127.0.0.1", 0x1234))[:10] == bytes([0, 0, 0, 0, 127, 0, 0, 1, 0x34, 0x12])


def test_modules_without_sockets_link_wasmtime_wasi_untouched(
    print_args: Path, start: Callable[..., Run], runtime: Runtime
) -> None:
    run = start(print_args, "a", caps=NET)
    assert _finish(run, runtime) == 0
    assert run.container.networking is False


def test_cli_addr_pool_attached(net: Path, tmp_path: Path) -> None:
    """``ocre run --addr-pool``: WAMR's option, attached; refused in one line without networking."""
    import subprocess
    import sys

    def ocre(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ocre_py", "run", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    bad = ocre("--addr-pool", "127.0.0.1/8", str(net), "connect4", "9")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "networking" in bad.stderr
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = str(srv.getsockname()[1])
        refused = ocre("-k", "networking", "--addr-pool", "::1/128", str(net), "connect4", port)
        assert refused.returncode == 0 and f"connect={EACCES}" in refused.stdout, (
            refused.stdout + refused.stderr
        )
        allowed = ocre("-k", "networking", "--addr-pool", "127.0.0.1/8", str(net), "connect4", port)
        assert allowed.returncode == 0 and "connect=0" in allowed.stdout, allowed.stdout + allowed.stderr
