"""A throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1, a client certificate,
and one from a stranger CA, made with ``cryptography`` (the daemon's and the fleet broker's TLS)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def write_key(key: object, path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(
        key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def issue(
    subject: str, issuer: tuple[object, object] | None, path: Path, *, ca: bool = False, ip: bool = False
) -> tuple[object, object]:
    """A certificate for ``subject`` signed by ``issuer`` (cert, key), or self-signed; PEM at ``path``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)  # type: ignore[attr-defined]
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
    cert = builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def make_pki(d: Path) -> Pki:
    """Issue every certificate of a :class:`Pki` into ``d``."""
    ca = issue("ocre test CA", None, d / "ca.pem", ca=True)
    _, server_key = issue("ocred", ca, d / "server.pem", ip=True)
    _, client_key = issue("client", ca, d / "cert.pem")
    stranger_ca = issue("stranger CA", None, d / "stranger-ca.pem", ca=True)
    _, stranger_key = issue("stranger", stranger_ca, d / "stranger.pem")
    return Pki(
        d / "ca.pem",
        d / "server.pem",
        write_key(server_key, d / "server-key.pem"),
        d / "cert.pem",
        write_key(client_key, d / "key.pem"),
        d / "stranger.pem",
        write_key(stranger_key, d / "stranger-key.pem"),
    )
