"""Image references: ``NAME[:TAG]``, ``HOST[:PORT]/REPO[:TAG|@DIGEST]``, or a bare digest.

Parsing follows the docker convention: the first path component is a registry host only when it
contains ``.`` or ``:`` or is ``localhost``. Local names obey the Ocre name rule per component.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocre_py.errors import InvalidInput
from ocre_py.image.digests import is_digest

_COMPONENT = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$|^[a-z0-9][a-z0-9._-]*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_HOST = re.compile(
    r"^(?:localhost|[A-Za-z0-9.-]+\.[A-Za-z0-9.-]+|[A-Za-z0-9.-]+:\d+|\[[0-9a-fA-F:]+\](?::\d+)?)$"
)
DEFAULT_TAG = "latest"
REF_RULE = "NAME[:TAG] or HOST[:PORT]/NAME[:TAG|@sha256:...], NAME in lowercase [a-z0-9._-] parts"


@dataclass(frozen=True)
class Reference:
    repository: str
    tag: str | None = None
    digest: str | None = None
    registry: str | None = None

    @property
    def name(self) -> str:
        """Repository with its registry, no tag: ``localhost:5000/hello``."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def tagged(self) -> str:
        """The name the local store keys by: ``hello:1``, ``localhost:5000/hello:1``."""
        return f"{self.name}:{self.tag or DEFAULT_TAG}"

    def __str__(self) -> str:
        if self.digest and not self.tag:
            return f"{self.name}@{self.digest}"
        return self.tagged

    @property
    def short_name(self) -> str:
        """Last repository component: what the flat runtime image dir calls it."""
        return self.repository.rsplit("/", 1)[-1]


def parse_reference(text: str, *, what: str = "image reference") -> Reference:
    """Parse ``text``; raise :class:`InvalidInput` naming the value and the rule."""
    if not isinstance(text, str) or not text or text != text.strip():
        raise InvalidInput.field(None, what, text, REF_RULE)
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not is_digest(digest):
            raise InvalidInput.field(
                None, what, text, "a digest of the form sha256:<64 hex digits> after '@'"
            )
    registry = None
    parts = rest.split("/")
    if len(parts) > 1 and _HOST.fullmatch(parts[0]):
        registry, parts = parts[0], parts[1:]
    tag = None
    if ":" in parts[-1]:
        parts[-1], tag = parts[-1].rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise InvalidInput.field(
                None, "tag", tag, "letters, digits, '_', '.', '-' (max 128, not starting with . or -)"
            )
    if not parts or not all(_COMPONENT.fullmatch(p) for p in parts):
        raise InvalidInput.field(None, what, text, REF_RULE)
    return Reference("/".join(parts), tag, digest, registry)
