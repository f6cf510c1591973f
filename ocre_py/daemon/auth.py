"""Bearer tokens for the TCP listener.

A Unix socket is guarded by its file mode; TCP is not, so a TCP daemon refuses every call without
``Authorization: Bearer <token>``. The token lives in ``<workdir>/daemon.token`` (mode 0600, created
on first use with :func:`secrets.token_urlsafe`); clients take it from ``--token``, ``$OCRE_TOKEN``
or that file when they run on the same machine. Comparison is constant-time.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from ocre_py.errors import InvalidInput

TOKEN_FILE = "daemon.token"


def token_path(workdir: Path) -> Path:
    return workdir / TOKEN_FILE


def load_or_create(path: Path) -> str:
    """Read the token at ``path``, or create it (0600, never world-readable even briefly)."""
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    if token:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return token
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (token + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return token


def read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise InvalidInput.field(None, "token file", str(path), f"a readable file ({exc.strerror})") from None
    if not token:
        raise InvalidInput.field(None, "token file", str(path), "a file holding the daemon's token")
    return token


def check(header: str | None, token: str) -> bool:
    """True when ``header`` is ``Bearer <token>``."""
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())
