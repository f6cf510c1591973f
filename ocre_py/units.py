"""Parsing of the size and duration arguments users type (``64K``, ``4MiB``, ``500ms``, ``2m``).

Client commands import this module at start-up and most parse no unit, so :mod:`re` (~6 ms) is
imported by the first parse (``re`` keeps the compiled pattern).
"""

from __future__ import annotations

import math

from ocre_py.errors import InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1024, "kib": 1024,
    "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1024**3, "gib": 1024**3,
}  # fmt: skip
_DURATION_UNITS = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}
_NUMBER = r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$"


def _number(text: str) -> re.Match[str] | None:
    import re

    return re.match(_NUMBER, text)


def parse_size(text: str | int, *, what: str = "size") -> int:
    """Bytes from ``123``, ``64K``, ``64KiB``, ``4M``… (binary units, as embedded people mean them)."""
    if isinstance(text, int):
        value = text
    else:
        m = _number(str(text))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _SIZE_UNITS:
            raise InvalidInput.field(None, what, text, "a byte count such as 65536, 64K or 4MiB")
        number = float(m.group(1)) * _SIZE_UNITS[unit]
        if not math.isfinite(number):  # hundreds of digits: float says inf, int() would raise
            raise InvalidInput.field(None, what, text, "a byte count such as 65536, 64K or 4MiB")
        value = int(number)
    if value <= 0:
        raise InvalidInput.field(None, what, text, "a positive byte count")
    return value


def parse_duration(text: str | float, *, what: str = "duration") -> float:
    """Seconds from ``10``, ``1.5s``, ``500ms``, ``2m``."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        m = _number(str(text))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _DURATION_UNITS:
            raise InvalidInput.field(None, what, text, "a duration such as 10, 1.5s, 500ms or 2m")
        value = float(m.group(1)) * _DURATION_UNITS[unit]
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput.field(None, what, text, "a positive duration")
    return value


def format_size(n: int) -> str:
    """Human-readable size with binary units (``1.5 KiB``)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
