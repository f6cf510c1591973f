"""Registry credentials: ``<workdir>/auth.json`` in docker's ``{"auths": {host: {"auth": b64}}}`` form.

The file holds secrets, so it is written with mode 0600 (atomically) and a looser mode on read is
reported. Only ``ocre login`` writes it; the registry client only reads it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

from ocre_py.errors import InvalidInput
from ocre_py.fsutil import atomic_write
from ocre_py.workdir import default_workdir

log = logging.getLogger(__name__)


def default_auth_file() -> Path:
    return default_workdir()[0] / "auth.json"


def _read(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); run: chmod 600 %s", path, mode, path)
    try:
        doc = json.loads(path.read_text())
        auths = doc["auths"]
        if not isinstance(auths, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise InvalidInput.field(
            str(path), "auths", "unreadable", '{"auths": {"HOST": {"auth": "..."}}}'
        ) from None
    return auths


def save_credentials(host: str, username: str, password: str, *, path: Path | None = None) -> Path:
    path = path or default_auth_file()
    auths = _read(path)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    auths[host] = {"auth": token}
    atomic_write(path, json.dumps({"auths": auths}, indent=2, sort_keys=True) + "\n", perms=0o600)
    return path


def remove_credentials(host: str, *, path: Path | None = None) -> bool:
    path = path or default_auth_file()
    auths = _read(path)
    if host not in auths:
        return False
    del auths[host]
    atomic_write(path, json.dumps({"auths": auths}, indent=2, sort_keys=True) + "\n", perms=0o600)
    return True


def credentials_for(host: str, *, path: Path | None = None) -> tuple[str, str] | None:
    """(username, password) stored for ``host``, or ``$OCRE_REGISTRY_USER``/``_PASSWORD``, or None."""
    if os.environ.get("OCRE_REGISTRY_USER"):
        return os.environ["OCRE_REGISTRY_USER"], os.environ.get("OCRE_REGISTRY_PASSWORD", "")
    entry = _read(path or default_auth_file()).get(host)
    if not entry or "auth" not in entry:
        return None
    try:
        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    except ValueError:
        raise InvalidInput.field(
            str(path or default_auth_file()), f"auths.{host}.auth", "…", "base64 of user:password"
        ) from None
    return user, password
