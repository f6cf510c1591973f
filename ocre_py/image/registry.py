"""An OCI distribution client on urllib: ping, auth, blob upload (monolithic and chunked), manifests.

Hosts on loopback are spoken to over plain HTTP (as docker does); any other host needs HTTPS unless
``insecure`` is set. A 401 is answered once, following the server's ``WWW-Authenticate`` challenge:
``Basic`` with stored credentials, or ``Bearer`` by fetching a token from the realm (with the
credentials when there are some, unless the realm is plain HTTP on another host: credentials never
cross the network in clear to a third party). A 401 on a request that carried a token means the
token expired: it is fetched again, once. No response is read past a limit (4 MiB for manifests,
tokens and errors; a blob's declared size), so a hostile registry cannot fill the client's memory.
Every error becomes one :class:`RegistryError` line naming the host, the request and the server's
own error code.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocre_py.errors import NotFound, RegistryError
from ocre_py.progress import Progress

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 5 * 1024 * 1024
#: Largest manifest, index, token or error body taken from a registry (what containerd allows too).
MAX_MANIFEST = 4 * 1024 * 1024
COPY_CHUNK = 64 * 1024
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class Sink(Protocol):
    """Where a streamed blob goes: a binary file, or a wrapper such as one hashing on the way."""

    def write(self, data: bytes, /) -> int: ...


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") else host[1:].split("]")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by hand so the Authorization header is not sent to a blob store."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Registry:
    """One registry host and the session state (tokens) for talking to it."""

    host: str
    insecure: bool = False
    credentials: tuple[str, str] | None = None
    timeout: float = 30.0
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)
    _basic: bool = field(default=False, repr=False)
    _opener: urllib.request.OpenerDirector | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        scheme = "http" if self.insecure or is_loopback(self.host) else "https"
        return f"{scheme}://{self.host}"

    # --- transport ----------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: dict[str, str],
        *,
        sink: Sink | None = None,
        limit: int = MAX_MANIFEST,
    ) -> Response:
        """One HTTP exchange. A 200 body goes to ``sink`` when given, else into memory; either way
        at most ``limit`` bytes are taken, so a registry cannot make the client hold more."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise RegistryError(f"{self.host}: refusing to fetch {url!r} (only http and https)")
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        if self._opener is None:
            self._opener = urllib.request.build_opener(_NoRedirect)
        try:
            where = f"{urllib.parse.urlsplit(url).netloc}: {method} {urllib.parse.urlsplit(url).path}"
            with self._opener.open(req, timeout=self.timeout) as resp:
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                if sink is not None and resp.status == 200:
                    _copy(resp, sink, limit, what=where)
                    return Response(resp.status, hdrs, b"", url)
                return Response(resp.status, hdrs, _read(resp, limit, what=where), url)
        except urllib.error.HTTPError as exc:
            body = exc.read(limit) if exc.fp else b""
            return Response(exc.code, {k.lower(): v for k, v in exc.headers.items()}, body, url)
        except urllib.error.URLError as exc:
            raise RegistryError(
                f"cannot reach registry {self.host}: {exc.reason}",
                hint="is it running? use --insecure for a plain-HTTP registry",
            ) from None
        except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            raise RegistryError(f"cannot reach registry {self.host}: {exc!r}") from None

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scope: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        what: str = "",
        sink: Sink | None = None,
        limit: int = MAX_MANIFEST,
    ) -> Response:
        """Send one request, answering an auth challenge once and following redirects for GET.

        A 401 when a token is already held means it expired: it is dropped and fetched again, once.
        """
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        hdrs = dict(headers or {})
        own = urllib.parse.urlsplit(self.base).netloc
        for _ in range(5):
            # credentials go to the registry only, never to a blob store it redirects to
            ours = urllib.parse.urlsplit(url).netloc == own
            auth = self._auth_header(scope) if ours else {}
            resp = self._send(method, url, data, {**hdrs, **auth}, sink=sink, limit=limit)
            if resp.status == 401 and ours:
                self._tokens.pop(scope, None)  # expired or revoked: a fresh one, once
                if self._answer_challenge(resp, scope):
                    auth = self._auth_header(scope)
                    resp = self._send(method, url, data, {**hdrs, **auth}, sink=sink, limit=limit)
            if (
                resp.status in (301, 302, 303, 307, 308)
                and method in ("GET", "HEAD")
                and resp.header("location")
            ):
                url = urllib.parse.urljoin(url, resp.header("location") or "")
                continue
            break
        if resp.status not in ok:
            self._raise(resp, method, what or url)
        return resp

    def _auth_header(self, scope: str) -> dict[str, str]:
        if scope in self._tokens:
            return {"Authorization": f"Bearer {self._tokens[scope]}"}
        if self._basic and self.credentials:
            return {"Authorization": _basic(self.credentials)}
        return {}

    def _answer_challenge(self, resp: Response, scope: str) -> bool:
        """Prepare credentials for a retry; False when there is nothing new to try."""
        challenge = resp.header("www-authenticate") or ""
        kind = challenge.split(" ", 1)[0].lower()
        params = dict(_CHALLENGE.findall(challenge))
        if kind == "basic":
            if self.credentials is None or self._basic:
                return False
            self._basic = True
            return True
        if kind == "bearer" and "realm" in params:
            realm = params["realm"]
            query = {"service": params.get("service", "")}
            if scope:
                query["scope"] = params.get("scope", scope)
            url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
            headers = {}
            if self.credentials and self._may_send_credentials(realm):
                headers["Authorization"] = _basic(self.credentials)
            elif self.credentials:
                log.warning(
                    "%s: not sending credentials to token realm %s (plain HTTP on another host); "
                    "asking for an anonymous token",
                    self.host,
                    realm,
                )
            token_resp = self._send("GET", url, None, headers)
            if token_resp.status != 200:
                self._raise(token_resp, "GET", f"token from {realm}")
            try:
                doc = json.loads(token_resp.body)
                token = doc.get("token") or doc["access_token"]
                if not isinstance(token, str) or not token:
                    raise TypeError
            except (ValueError, KeyError, TypeError, AttributeError):
                raise RegistryError(f"{realm}: token response has no token") from None
            self._tokens[scope] = token
            return True
        return False

    def _may_send_credentials(self, realm: str) -> bool:
        """HTTPS realms, or plain HTTP only on the registry's own host (docker's loopback habit)."""
        parts = urllib.parse.urlsplit(realm)
        if parts.scheme == "https":
            return True
        own = urllib.parse.urlsplit(self.base)
        return parts.scheme == "http" and parts.hostname == own.hostname and own.scheme == "http"

    def _raise(self, resp: Response, method: str, what: str) -> None:
        detail = ""
        try:
            errors = json.loads(resp.body).get("errors") or []
            if errors:
                detail = f": {errors[0].get('code', '')} {errors[0].get('message', '')}".rstrip()
        except (ValueError, AttributeError):
            pass
        where = f"{self.host}: {method} {what}"
        if resp.status == 401:
            hint = (
                f"ocre login {self.host}" if not self.credentials else "check the credentials of 'ocre login'"
            )
            raise RegistryError(f"{where}: 401 unauthorized{detail}", hint=hint)
        if resp.status == 403:
            raise RegistryError(f"{where}: 403 denied{detail}")
        if resp.status == 404:
            raise NotFound(f"{where}: 404 not found{detail}")
        raise RegistryError(f"{where}: HTTP {resp.status}{detail}")

    # --- API ----------------------------------------------------------------------------------------

    def ping(self) -> None:
        self.request("GET", "/v2/", scope="", what="/v2/ (API check)")

    def blob_exists(self, repo: str, digest: str) -> bool:
        resp = self.request(
            "HEAD",
            f"/v2/{repo}/blobs/{digest}",
            scope=_pull(repo),
            ok=(200, 404),
            what=f"blob {repo}@{digest[:19]}",
        )
        return resp.status == 200

    def get_blob(self, repo: str, digest: str, *, limit: int = MAX_MANIFEST) -> bytes:
        """A small blob (config, signature payload) into memory, at most ``limit`` bytes."""
        return self.request(
            "GET", f"/v2/{repo}/blobs/{digest}", scope=_pull(repo), what=f"blob {repo}@{digest}", limit=limit
        ).body

    def download_blob(self, repo: str, digest: str, size: int, sink: Sink) -> None:
        """Stream a blob into ``sink``, reading no more than its declared ``size`` (+1 to notice more)."""
        what = f"blob {repo}@{digest[:19]}"
        self.request("GET", f"/v2/{repo}/blobs/{digest}", scope=_pull(repo), what=what, sink=sink, limit=size)

    def upload_blob(
        self,
        repo: str,
        digest: str,
        data: bytes,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        progress: Progress | None = None,
    ) -> None:
        """Upload ``data``: one PUT when it fits ``chunk_size``, else PATCH chunks then a closing PUT."""
        scope = _push(repo)
        start = self.request(
            "POST", f"/v2/{repo}/blobs/uploads/", scope=scope, ok=(202,), what=f"upload {repo}"
        )
        location = self._location(start)
        octet = {"Content-Type": "application/octet-stream"}
        if len(data) <= chunk_size:
            self.request(
                "PUT",
                _with_digest(location, digest),
                scope=scope,
                data=data,
                headers=octet,
                ok=(201,),
                what=f"blob {digest[:19]}",
            )
            if progress:
                progress(len(data), len(data))
            return
        offset = 0
        while offset < len(data):
            chunk = data[offset : offset + chunk_size]
            headers = {
                **octet,
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                "Content-Length": str(len(chunk)),
            }
            resp = self.request(
                "PATCH",
                location,
                scope=scope,
                data=chunk,
                headers=headers,
                ok=(202,),
                what=f"chunk of {digest[:19]}",
            )
            location = self._location(resp)
            offset += len(chunk)
            if progress:
                progress(offset, len(data))
        self.request(
            "PUT",
            _with_digest(location, digest),
            scope=scope,
            data=b"",
            headers=octet,
            ok=(201,),
            what=f"blob {digest[:19]}",
        )

    def _location(self, resp: Response) -> str:
        loc = resp.header("location")
        if not loc:
            raise RegistryError(f"{self.host}: upload response has no Location header")
        return urllib.parse.urljoin(resp.url, loc)

    def get_manifest(self, repo: str, reference: str, accept: str) -> tuple[bytes, str, str | None]:
        """(bytes, media type, Docker-Content-Digest) of a manifest by tag or digest."""
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            scope=_pull(repo),
            headers={"Accept": accept},
            what=f"manifest {repo}:{reference}",
        )
        return (
            resp.body,
            (resp.header("content-type") or "").split(";")[0],
            resp.header("docker-content-digest"),
        )

    def manifest_exists(self, repo: str, reference: str, accept: str) -> bool:
        resp = self.request(
            "HEAD",
            f"/v2/{repo}/manifests/{reference}",
            scope=_pull(repo),
            headers={"Accept": accept},
            ok=(200, 404),
        )
        return resp.status == 200

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str | None:
        resp = self.request(
            "PUT", f"/v2/{repo}/manifests/{reference}", scope=_push(repo), data=data,
            headers={"Content-Type": media_type}, ok=(201,), what=f"manifest {repo}:{reference}",
        )  # fmt: skip
        return resp.header("docker-content-digest")


def _basic(credentials: tuple[str, str]) -> str:
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _read(resp: Any, limit: int, *, what: str) -> bytes:
    """Read a response body, refusing one longer than ``limit`` without holding more than that."""
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RegistryError(f"{what}: response of {declared} bytes is over the {limit}-byte limit")
    body = resp.read(limit + 1)
    if len(body) > limit:
        raise RegistryError(f"{what}: response is over the {limit}-byte limit")
    return body


def _copy(resp: Any, sink: Sink, limit: int, *, what: str) -> None:
    """Stream a body into ``sink`` in chunks, stopping once it passes ``limit`` bytes."""
    done = 0
    while True:
        chunk = resp.read(min(COPY_CHUNK, limit + 1 - done))
        if not chunk:
            return
        done += len(chunk)
        if done > limit:
            raise RegistryError(f"{what}: body is longer than the {limit} bytes expected; stopped reading")
        sink.write(chunk)


def _pull(repo: str) -> str:
    return f"repository:{repo}:pull"


def _push(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def _with_digest(location: str, digest: str) -> str:
    sep = "&" if "?" in location else "?"
    return f"{location}{sep}digest={urllib.parse.quote(digest)}"
