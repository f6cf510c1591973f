"""Registry credentials: ``<workdir>/auth.json`` in docker's ``{"auths": {host: {"auth": b64}}}`` form.

The file holds secrets, so it is written with mode 0600 (atomically) and a looser mode on read is
reported. Only ``ocre login`` writes it; the registry client only reads it.

Precedence (:func:`credentials_for`): ``$OCRE_REGISTRY_USER``/``_PASSWORD``; ``ocre login``'s
``auth.json``; then docker's own ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``)
the way docker reads it: ``credHelpers[host]``, else ``auths[host].auth``, else ``credsStore``; a
helper is ``docker-credential-<name> get`` with the host on stdin. So ``docker login`` works too.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

from ocre_py.errors import InvalidInput, RegistryError
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
    """(username, password) for ``host`` from the sources in the module's precedence, or None."""
    if os.environ.get("OCRE_REGISTRY_USER"):
        return os.environ["OCRE_REGISTRY_USER"], os.environ.get("OCRE_REGISTRY_PASSWORD", "")
    entry = _read(path or default_auth_file()).get(host)
    if entry and "auth" in entry:
        return _decode(entry["auth"], str(path or default_auth_file()), host)
    return docker_credentials(host)


def _decode(auth: object, source: str, host: str) -> tuple[str, str]:
    try:
        user, sep, password = base64.b64decode(str(auth), validate=True).decode().partition(":")
        if not sep:
            raise ValueError
    except ValueError:
        raise InvalidInput.field(source, f"auths.{host}.auth", "…", "base64 of user:password") from None
    return user, password


def docker_config_file() -> Path:
    directory = os.environ.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


def _host_key(key: str) -> str:
    """docker's auths keys may be URLs (``https://host/v1/``): compare by ``host[:port]``."""
    return urllib.parse.urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]


def docker_credentials(host: str, *, path: Path | None = None) -> tuple[str, str] | None:
    """What ``docker login`` stored for ``host``: a credential helper, or ``auths`` (see module doc)."""
    path = path or docker_config_file()
    if not path.is_file():
        return None
    try:
        doc: Any = json.loads(path.read_text())
        if not isinstance(doc, dict):
            raise TypeError
        helpers = doc.get("credHelpers") or {}
        auths = doc.get("auths") or {}
        if not isinstance(helpers, dict) or not isinstance(auths, dict):
            raise TypeError
    except (ValueError, TypeError, OSError):
        raise InvalidInput.field(
            str(path), "docker config", "unreadable", '{"auths": {...}, "credHelpers": {...}}'
        ) from None
    if helpers.get(host):
        return _helper_get(str(helpers[host]), host)
    for key, entry in auths.items():
        if _host_key(key) == host and isinstance(entry, dict) and entry.get("auth"):
            return _decode(entry["auth"], str(path), host)
    if doc.get("credsStore"):
        return _helper_get(str(doc["credsStore"]), host)
    return None


def _helper_get(helper: str, host: str) -> tuple[str, str] | None:
    program = f"docker-credential-{helper}"
    exe = shutil.which(program)
    if exe is None:
        log.warning("%s: credential helper %s is not installed; going on without credentials", host, program)
        return None
    try:
        done = subprocess.run([exe, "get"], input=host, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryError(f"{program} get {host}: {exc}") from None
    if done.returncode != 0:
        message = (done.stdout.strip() or done.stderr.strip()).splitlines()
        if message and "credentials not found" in message[0].lower():
            return None
        raise RegistryError(f"{program} get {host}: {message[0] if message else f'exit {done.returncode}'}")
    try:
        doc = json.loads(done.stdout)
        return str(doc["Username"]), str(doc["Secret"])
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f'{program} get {host}: output is not {{"Username", "Secret"}} JSON') from None
