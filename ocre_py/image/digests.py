"""sha256 digests in OCI form (``sha256:<64 hex>``): computing, checking and parsing them."""

from __future__ import annotations

import hashlib
import re

from ocre_py.errors import ImageError, InvalidInput

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    return bool(_DIGEST.fullmatch(text))


def check_digest(text: object, *, source: str | None = None, field: str = "digest") -> str:
    if not isinstance(text, str) or not is_digest(text):
        raise InvalidInput.field(source, field, text, "sha256:<64 lowercase hex digits>")
    return text


def verify(data: bytes, expected: str, *, what: str) -> None:
    """Raise :class:`ImageError` when ``data`` does not hash to ``expected`` (a tampered or torn blob)."""
    actual = digest_of(data)
    if actual != expected:
        raise ImageError(f"{what}: digest mismatch: expected {expected}, got {actual}")
