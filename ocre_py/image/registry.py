"""An OCI distribution client on urllib: ping, auth, blob upload (monolithic and chunked), manifests.

Hosts on loopback are spoken to over plain HTTP (as docker does); any other host needs HTTPS unless
``insecure`` is set. A 401 is answered once, following the server's ``WWW-Authenticate`` challenge:
``Basic`` with stored credentials, or ``Bearer`` by fetching a token from the realm (with the
credentials when there are some). Every error becomes one :class:`RegistryError` line naming the
host, the request and the server's own error code.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ocre_py.errors import NotFound, RegistryError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
DEFAULT_CHUNK = 5 * 1024 * 1024
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


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

    def _send(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> Response:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        if self._opener is None:
            self._opener = urllib.request.build_opener(_NoRedirect)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return Response(
                    resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read(), url
                )
        except urllib.error.HTTPError as exc:
            body = exc.read() if exc.fp else b""
            return Response(exc.code, {k.lower(): v for k, v in exc.headers.items()}, body, url)
        except urllib.error.URLError as exc:
            raise RegistryError(
                f"cannot reach registry {self.host}: {exc.reason}",
                hint="is it running? use --insecure for a plain-HTTP registry",
            ) from None
        except (TimeoutError, ConnectionError) as exc:
            raise RegistryError(f"cannot reach registry {self.host}: {exc}") from None

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
    ) -> Response:
        """Send one request, answering an auth challenge once and following redirects for GET."""
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        hdrs = dict(headers or {})
        own = urllib.parse.urlsplit(self.base).netloc
        for _ in range(5):
            # credentials go to the registry only, never to a blob store it redirects to
            ours = urllib.parse.urlsplit(url).netloc == own
            resp = self._send(method, url, data, {**hdrs, **(self._auth_header(scope) if ours else {})})
            if resp.status == 401 and ours and self._answer_challenge(resp, scope):
                resp = self._send(method, url, data, {**hdrs, **self._auth_header(scope)})
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
            user, password = self.credentials
            return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
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
        if kind == "bearer" and "realm" in params and scope not in self._tokens:
            query = {"service": params.get("service", "")}
            if scope:
                query["scope"] = params.get("scope", scope)
            url = params["realm"] + "?" + urllib.parse.urlencode(query)
            headers = {}
            if self.credentials:
                user, password = self.credentials
                headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            token_resp = self._send("GET", url, None, headers)
            if token_resp.status != 200:
                self._raise(token_resp, "GET", f"token from {params['realm']}")
            try:
                doc = json.loads(token_resp.body)
                self._tokens[scope] = doc.get("token") or doc["access_token"]
            except (ValueError, KeyError):
                raise RegistryError(f"{params['realm']}: token response has no token") from None
            return True
        return False

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

    def get_blob(self, repo: str, digest: str) -> bytes:
        return self.request(
            "GET", f"/v2/{repo}/blobs/{digest}", scope=_pull(repo), what=f"blob {repo}@{digest}"
        ).body

    def upload_blob(
        self,
        repo: str,
        digest: str,
        data: bytes,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        progress: ProgressCallback | None = None,
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

    def referrers(self, repo: str, digest: str) -> list[dict[str, Any]] | None:
        """Descriptors from the referrers API, or None when the registry does not offer it."""
        resp = self.request(
            "GET", f"/v2/{repo}/referrers/{digest}", scope=_pull(repo), ok=(200, 404, 400, 405)
        )
        if resp.status != 200:
            return None
        try:
            return list(json.loads(resp.body).get("manifests") or [])
        except (ValueError, AttributeError):
            return None


def _pull(repo: str) -> str:
    return f"repository:{repo}:pull"


def _push(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def _with_digest(location: str, digest: str) -> str:
    sep = "&" if "?" in location else "?"
    return f"{location}{sep}digest={urllib.parse.quote(digest)}"
