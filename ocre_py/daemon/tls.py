"""TLS for the daemon's TCP listener, and for the clients that reach it.

Server: ``ocre daemon -H tcp://… --tls-cert FILE --tls-key FILE`` serves TLS on every TCP listener;
adding ``--tls-ca FILE`` makes it mutual — a client must present a certificate that CA signed. The
bearer token is still required on top: TLS protects it in transit, it does not replace it.

Client: TLS is used for a ``tcp://`` address when any of these is given, in this order of
precedence (flags win over the environment, as with Docker's ``DOCKER_TLS_VERIFY`` and
``DOCKER_CERT_PATH``):

1. ``--tls``, ``--tls-ca FILE``, ``--tls-cert FILE``, ``--tls-key FILE``;
2. ``$OCRE_TLS_VERIFY`` (any value but empty or ``0``) turns TLS on;
3. ``$OCRE_CERT_PATH`` names a directory whose ``ca.pem``, ``cert.pem`` and ``key.pem`` fill in
   the files not given by flags (it turns TLS on too).

The daemon's certificate is always verified (against ``--tls-ca``, else the system's CAs) and its
host name checked; there is no switch to turn verification off. A Unix socket never uses TLS.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from ocre_py.errors import InvalidInput

CERT_PATH_ENV = "OCRE_CERT_PATH"
VERIFY_ENV = "OCRE_TLS_VERIFY"
_CERT_PATH_FILES = {"ca": "ca.pem", "cert": "cert.pem", "key": "key.pem"}


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for one side of a TLS connection, each with where it came from (for errors)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    origin: str = "--tls"


def _readable(flag: str, path: Path) -> Path:
    if not path.is_file():
        raise InvalidInput.field(None, flag, str(path), "a readable PEM file")
    return path


def server_context(cert: Path | None, key: Path | None, ca: Path | None) -> ssl.SSLContext | None:
    """The daemon's context from ``--tls-cert/--tls-key[/--tls-ca]`` (None when none is given)."""
    if cert is None and key is None and ca is None:
        return None
    if cert is None or key is None:
        missing = "--tls-key" if key is None else "--tls-cert"
        raise InvalidInput.field(None, missing, None, "a PEM file: --tls-cert and --tls-key go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(_readable("--tls-cert", cert), _readable("--tls-key", key))
    except ssl.SSLError as exc:
        raise InvalidInput.field(
            None, "--tls-key", str(key), f"the PEM private key of --tls-cert {cert} ({exc.reason})"
        ) from None
    if ca is not None:
        _load_ca(ctx, "--tls-ca", ca)
        ctx.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no certificate from that CA, no connection
    return ctx


def _load_ca(ctx: ssl.SSLContext, flag: str, ca: Path) -> None:
    try:
        ctx.load_verify_locations(cafile=str(_readable(flag, ca)))
    except ssl.SSLError as exc:
        raise InvalidInput.field(None, flag, str(ca), f"PEM CA certificates ({exc.reason})") from None


def resolve_client(
    *, tls: bool = False, ca: str | None = None, cert: str | None = None, key: str | None = None
) -> TlsFiles | None:
    """The client's TLS files from flags, then ``$OCRE_TLS_VERIFY``/``$OCRE_CERT_PATH`` (None: no TLS)."""
    flags = {"ca": ca, "cert": cert, "key": key}
    cert_dir = os.environ.get(CERT_PATH_ENV) or None
    verify = os.environ.get(VERIFY_ENV, "") not in ("", "0")
    if not (tls or any(flags.values()) or verify or cert_dir):
        return None
    origin = "--tls" if tls or any(flags.values()) else f"${VERIFY_ENV}" if verify else f"${CERT_PATH_ENV}"
    files: dict[str, Path | None] = {}
    for name, value in flags.items():
        if value:
            files[name] = _readable(f"--tls-{name}", Path(value))
        elif cert_dir and (Path(cert_dir) / _CERT_PATH_FILES[name]).is_file():
            files[name] = Path(cert_dir) / _CERT_PATH_FILES[name]
        else:
            files[name] = None
    if (files["cert"] is None) != (files["key"] is None):
        missing = "--tls-key" if files["key"] is None else "--tls-cert"
        raise InvalidInput.field(
            None, missing, None, f"a PEM file: a client certificate needs its key ({origin})"
        )
    return TlsFiles(files["ca"], files["cert"], files["key"], origin)


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """A verifying client context (the daemon's certificate and host name are always checked)."""
    ctx = ssl.create_default_context()
    if files.ca is not None:
        _load_ca(ctx, "--tls-ca", files.ca)
    if files.cert is not None and files.key is not None:
        try:
            ctx.load_cert_chain(str(files.cert), str(files.key))
        except ssl.SSLError as exc:
            raise InvalidInput.field(
                None, "--tls-key", str(files.key), f"the PEM key of --tls-cert {files.cert} ({exc.reason})"
            ) from None
    return ctx
