"""Security pass (issue 7.4): file modes, secrets in logs, outside strings as paths, tar extraction, TLS.

Each test drives the real component (a daemon server on a real socket, a real docker-registry with
htpasswd auth, a real TLS server with a self-signed certificate, real tar archives) and asserts the
property, not the implementation.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import io
import json
import logging
import os
import re
import ssl
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from fuzz._seeds import image_blobs, runnable_module
from ocre_py.errors import ImageError, InvalidInput, RegistryError

REPO = Path(__file__).resolve().parents[2]


# --- file modes -----------------------------------------------------------------------------------


def test_daemon_socket_and_token_are_owner_only(tmp_path: Path) -> None:
    from ocre_py.daemon import Address, Daemon
    from ocre_py.daemon.server import Server

    os.umask(0o022)  # the usual umask: the modes must not depend on it
    wd = tmp_path / "wd"
    daemon = Daemon(wd)
    server = Server(
        daemon, [Address("unix", path=wd / "ocre.sock"), Address("tcp", host="127.0.0.1", port=0)]
    )
    try:
        assert (wd / "ocre.sock").stat().st_mode & 0o777 == 0o600
        assert (wd / "daemon.token").stat().st_mode & 0o777 == 0o600
    finally:
        server.close()
        daemon.close()


def test_a_loose_token_file_is_tightened(tmp_path: Path) -> None:
    from ocre_py.daemon import auth

    path = tmp_path / "daemon.token"
    path.write_text("abc\n")
    path.chmod(0o644)
    assert auth.load_or_create(path) == "abc"
    assert path.stat().st_mode & 0o777 == 0o600


def test_credentials_and_private_keys_are_owner_only(tmp_path: Path) -> None:
    from ocre_py.image.auth import save_credentials
    from ocre_py.image.signing import generate_key

    os.umask(0o022)
    creds = save_credentials("registry.example:5000", "alice", "pw", path=tmp_path / "auth.json")
    assert creds.stat().st_mode & 0o777 == 0o600
    pair = generate_key("k1", key_dir=tmp_path / "keys")
    private = next((tmp_path / "keys").glob("k1.key"))
    assert private.stat().st_mode & 0o777 == 0o600, pair


# --- no secrets in logs ---------------------------------------------------------------------------


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of every logger at DEBUG (the most a user can turn on with --debug)."""
    logging.getLogger("ocre_py").propagate = True
    with caplog.at_level(logging.DEBUG):
        yield caplog


def _secret_forms(*secrets: str) -> list[str]:
    forms = list(secrets)
    forms.append(base64.b64encode(":".join(secrets).encode()).decode())
    return forms


def test_daemon_token_never_reaches_the_log(tmp_path: Path, all_logs: pytest.LogCaptureFixture) -> None:
    from ocre_py.daemon import Address, Daemon
    from ocre_py.daemon.server import Server

    daemon = Daemon(tmp_path / "wd")
    server = Server(daemon, [Address("tcp", host="127.0.0.1", port=0)])
    server.start()
    try:
        port = int(server.addresses[0].rsplit(":", 1)[1])
        token = server.token
        assert token
        for header in (
            {},
            {"Authorization": "Bearer wrong-" + token[:8]},
            {"Authorization": f"Bearer {token}"},
        ):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/v1/containers", headers=header)
            status = conn.getresponse().status
            conn.close()
            assert status == (200 if header.get("Authorization", "").endswith(token) else 401)
    finally:
        server.close()
        daemon.close()
    text = all_logs.text + "".join(str(r.args) for r in all_logs.records)
    assert "refused unauthenticated" in text, "the refusal itself is logged"
    assert token not in text and token[:8] not in text


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.image.conftest import PASSWORD, USER, _bcrypt_line, run_registry

    work = tmp_path_factory.mktemp("registry-basic")
    (work / "htpasswd").write_text(_bcrypt_line(USER, PASSWORD) + "\n")
    auth = f"auth:\n  htpasswd: {{realm: ocre-tests, path: {work / 'htpasswd'}}}\n"
    with run_registry(work, auth) as server:
        yield server


def test_registry_password_never_reaches_logs_or_output(
    basic_registry: object,
    tmp_path: Path,
    all_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Login, build, push, pull with --debug (everything logged), then a wrong password: no secret shows."""
    from ocre_py.cli.main import main
    from tests.image.conftest import PASSWORD, USER

    host = basic_registry.host  # type: ignore[attr-defined]
    wasm = tmp_path / "app.wasm"
    wasm.write_bytes(runnable_module())
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["--debug", "login", host, "-u", USER, "--password-stdin"]) == 0
    assert main(["--debug", "image", "build", "-t", f"{host}/sec:1", str(wasm)]) == 0
    assert main(["--debug", "image", "push", f"{host}/sec:1"]) == 0
    assert main(["--debug", "image", "rm", f"{host}/sec:1"]) == 0
    assert main(["--debug", "image", "pull", f"{host}/sec:1"]) == 0
    wrong = "not-" + PASSWORD
    monkeypatch.setattr("sys.stdin", io.StringIO(wrong + "\n"))
    main(["--debug", "login", host, "-u", USER, "--password-stdin"])  # refused or stored: either way, quiet
    main(["--debug", "image", "pull", f"{host}/sec:1"])
    out = capsys.readouterr()
    text = all_logs.text + out.out + out.err + "".join(str(r.args) for r in all_logs.records)
    assert "ocre: info:" in out.err, "the flow was logged at --debug level (else this test proves nothing)"
    for secret in [PASSWORD, wrong, *_secret_forms(USER, PASSWORD)[2:], *_secret_forms(USER, wrong)[2:]]:
        assert secret not in text, f"secret form {secret[:6]}... leaked"


# --- outside strings never become paths outside their directory ------------------------------------

HOSTILE = [
    "..",
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "a/b",
    ".hidden",
    "x\n",
    "x\0y",
    "",
    "A",
    "ok/../..",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_by_every_sink(name: str, tmp_path: Path) -> None:
    from ocre_py.daemon import requests
    from ocre_py.image import ImageStore
    from ocre_py.image.reference import parse_reference
    from ocre_py.names import check_name
    from ocre_py.runtime import ContainerSpec, Runtime
    from ocre_py.zephyr.board.geometry import Geometry
    from ocre_py.zephyr.storage import autostart
    from ocre_py.zephyr.storage.bundle import check_name as bundle_name
    from ocre_py.zephyr.storage.littlefs import Partition

    sinks = {
        "names.check_name": lambda: check_name(name),
        "daemon image path": lambda: requests.image_path(tmp_path / "images", name),
        "daemon create request": lambda: requests.normalize({"image": name}),
        "daemon container name": lambda: requests.normalize({"image": "ok", "name": name}),
        "image reference": lambda: parse_reference(name if name != "a/b" else "a/../b"),  # a/b: a repo
        "store digest": lambda: ImageStore(tmp_path / "s").blob_path(f"sha256:{name}"),
        "partition image": lambda: Partition.new(Geometry(0, 32 * 1024, 4096)).add_image(name, b"\0asm"),
        "autostart image": lambda: autostart.render(
            [autostart.AutostartEntry("x", name if name != "A" else "")]
        ),
        "bundle name": lambda: bundle_name(name),
    }
    module = tmp_path / "m.wasm"
    module.write_bytes(runnable_module())
    with Runtime(tmp_path / "wd") as rt:
        sinks["runtime container name"] = lambda: rt.create(
            ContainerSpec(image="x", module_path=module, name=name)
        )
        sinks["runtime image name"] = lambda: rt.create(ContainerSpec(image=name))
        for what, sink in sinks.items():
            with pytest.raises(InvalidInput):  # refused as input, not "not found" by luck
                sink()
                pytest.fail(f"{what} accepted {name!r}")
    outside = [p for p in tmp_path.parent.iterdir() if p.name in ("x", "etc", "passwd")]
    assert not outside


def test_the_same_sinks_accept_a_good_name(tmp_path: Path) -> None:
    """The control for the test above: each sink takes an ordinary name (so refusals are real)."""
    from ocre_py.daemon import requests
    from ocre_py.image.reference import parse_reference
    from ocre_py.names import check_name
    from ocre_py.runtime import ContainerSpec, Runtime
    from ocre_py.zephyr.board.geometry import Geometry
    from ocre_py.zephyr.storage import autostart
    from ocre_py.zephyr.storage.bundle import check_name as bundle_name
    from ocre_py.zephyr.storage.littlefs import Partition

    assert check_name("ok") == "ok" and bundle_name("ok") == "ok"
    assert requests.image_path(tmp_path, "ok") == tmp_path / "ok"
    assert requests.normalize({"image": "ok", "name": "ok"})["name"] == "ok"
    assert parse_reference("ok").repository == "ok"
    assert Partition.new(Geometry(0, 32 * 1024, 4096)).add_image("ok.wasm", b"\0asm")
    assert "ok.wasm" in autostart.render([autostart.AutostartEntry("x", "ok.wasm")])
    module = tmp_path / "m.wasm"
    module.write_bytes(runnable_module())
    with Runtime(tmp_path / "wd") as rt:
        assert rt.create(ContainerSpec(image="x", module_path=module, name="ok")).id == "ok"


def test_daemon_api_refuses_traversal_in_urls(tmp_path: Path) -> None:
    from ocre_py.daemon import Daemon, api

    daemon = Daemon(tmp_path / "wd")
    try:
        for path in ("/v1/images/..", "/v1/images/.hidden", "/v1/images/%2e%2e", "/v1/containers/.."):
            reply = api.dispatch(
                daemon, "PUT" if "images" in path else "DELETE", path, "", lambda n: runnable_module()
            )
            assert isinstance(reply, api.Reply) and 400 <= reply.status < 500, (path, reply)
        assert (
            not list((tmp_path / "wd").parent.glob("*.wasm"))
            and not (tmp_path / "wd" / "images" / "..").is_file()
        )
    finally:
        daemon.close()


# --- safe tar extraction ---------------------------------------------------------------------------


def _tar(members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None, mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for m in members:
            payload = (data or {}).get(m.name)
            tar.addfile(m, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


@pytest.mark.parametrize(
    ("case", "members"),
    [
        ("absolute path", [_member("/etc/ocre-evil", size=1)]),
        ("dot-dot", [_member("../ocre-evil", size=1)]),
        ("dot-dot inside blobs", [_member("blobs/sha256/../../../ocre-evil", size=1)]),
        ("symlink", [_member("blobs/sha256/" + "a" * 64, tarfile.SYMTYPE, link="/etc/passwd")]),
        ("hardlink", [_member("blobs/sha256/" + "a" * 64, tarfile.LNKTYPE, link="/etc/passwd")]),
        ("char device", [_member("blobs/sha256/" + "a" * 64, tarfile.CHRTYPE)]),
        ("fifo", [_member("index.json", tarfile.FIFOTYPE)]),
        ("newline in name", [_member("index.json\n", size=1)]),
        ("duplicate member", [_member("oci-layout", size=1), _member("oci-layout", size=1)]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_layout_tar_refuses_unsafe_members(case: str, members: list[tarfile.TarInfo], tmp_path: Path) -> None:
    from ocre_py.image import ImageStore, load

    archive = tmp_path / "evil.tar"
    archive.write_bytes(_tar(members, {m.name: b"x" * m.size for m in members if m.isfile()}))
    store = ImageStore(tmp_path / "store")
    with pytest.raises(ImageError) as err:
        load(store, archive)
    assert "\n" not in err.value.message
    assert not store.root.exists() or not any(store.root.rglob("*.wasm"))
    assert not (tmp_path.parent / "ocre-evil").exists() and not Path("/etc/ocre-evil").exists()


def test_layout_tar_size_limits_stop_archive_bombs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gzip of zeros is small on disk and huge unpacked: refused on the headers, before reading."""
    from ocre_py.image import ImageStore, layout_tar, load

    monkeypatch.setattr(layout_tar, "MAX_ARCHIVE_MEMBER", 1 << 20)
    monkeypatch.setattr(layout_tar, "MAX_ARCHIVE_TOTAL", 3 << 20)
    zeros = b"\0" * (1 << 20)
    blobs = [_member(f"blobs/sha256/{i:064x}", size=len(zeros)) for i in range(4)]
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(_tar(blobs, {m.name: zeros for m in blobs}, mode="w:gz"))
    assert bomb.stat().st_size < 64 * 1024
    with pytest.raises(ImageError, match="add up to over"):
        load(ImageStore(tmp_path / "s"), bomb)
    big = tmp_path / "big.tar.gz"
    member = _member("blobs/sha256/" + "b" * 64, size=(1 << 20) + 1)
    big.write_bytes(_tar([member], {member.name: b"\0" * member.size}, mode="w:gz"))
    with pytest.raises(ImageError, match="over the"):
        load(ImageStore(tmp_path / "s"), big)


def test_a_good_archive_still_loads(tmp_path: Path) -> None:
    from ocre_py.image import ImageStore, load

    archive = tmp_path / "good.tar"
    archive.write_bytes(image_blobs()[2])
    assert load(ImageStore(tmp_path / "s"), archive) == ["seed:1"]


# --- TLS ------------------------------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registry.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
            False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_registry_tls_is_verified_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An HTTPS registry with a certificate nobody vouches for is refused, not trusted."""
    from ocre_py.image import registry as registry_mod

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    cert, key = _self_signed(tmp_path)
    server = HTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(registry_mod, "is_loopback", lambda h: False)  # treat it as a remote registry
    try:
        reg = registry_mod.Registry(host)
        assert reg.base.startswith("https://")
        with pytest.raises(RegistryError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            reg.request("GET", "/v2/", scope="")
        assert not hits, "no request may be served over an unverified connection"
    finally:
        server.shutdown()
        server.server_close()


def test_no_code_path_disables_certificate_checks() -> None:
    # The one verify_mode allowed tightens it: the daemon's mutual TLS requires client certificates.
    pattern = re.compile(
        r"_create_unverified_context|CERT_NONE|check_hostname\s*=\s*False|SSLContext\("
        r"|verify_mode(?!\s*=\s*ssl\.CERT_REQUIRED\b)"
    )
    offenders = [
        f"{p.relative_to(REPO)}:{n}"
        for p in sorted((REPO / "ocre_py").rglob("*.py"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders


def test_insecure_is_plain_http_never_unverified_https() -> None:
    from ocre_py.image.registry import Registry

    assert Registry("registry.example.com", insecure=True).base == "http://registry.example.com"
    assert Registry("registry.example.com").base == "https://registry.example.com"


# --- signatures -----------------------------------------------------------------------------------


def test_require_signature_refuses_unsigned_and_wrongly_signed(tmp_path: Path) -> None:
    from ocre_py.image import ImageStore, build_image
    from ocre_py.image.signing import generate_key, load_private_key, sign, trusted_keys, verify_signatures
    from ocre_py.image.transfer import collect

    keys = tmp_path / "keys"
    generate_key("good", key_dir=keys)
    generate_key("other", key_dir=keys)
    store = ImageStore(tmp_path / "s")
    digest = build_image(store, "signed:1", runnable_module()).digest
    good = trusted_keys([str(keys / "good.pub")])

    def check() -> str:
        sigs = [(s.manifest, s.blobs) for s in collect(store, digest).signatures]
        return verify_signatures(digest, sigs, good, source="test")

    with pytest.raises(ImageError, match="is not signed"):
        check()
    sign(store, "signed:1", load_private_key(str(keys / "other.key")))
    with pytest.raises(ImageError, match="does not verify with any trusted key"):
        check()
    sign(store, "signed:1", load_private_key(str(keys / "good.key")))
    assert check()


def test_json_of_findings_is_machine_readable() -> None:
    """Guard for the report pipeline: results files parse (the report is generated from them)."""
    for p in (REPO / "fuzz" / "results").glob("*.json"):
        json.loads(p.read_text())
