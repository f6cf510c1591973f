"""Name rules shared by container IDs and image names, and Ocre's ID generator.

Upstream's ``ocre_is_valid_name``: non-empty, does not start with ``.``, only ``[a-z0-9._-]``
(checked with a set, not a regular expression: client commands check names at start-up, and
:mod:`re` is ~6 ms to import).
"""

from __future__ import annotations

import os

from ocre_py.errors import Conflict, InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container, Iterable

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
NAME_RULE = "lowercase letters, digits, '.', '_' or '-', not starting with '.'"
FIRMWARE_NAME_MAX = 31  # characters of a container name the firmware's autostart parser keeps


def is_valid_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and _NAME_CHARS.issuperset(name)


def is_short_name(name: str, max_length: int) -> bool:
    """The stricter names of stored formats: :func:`is_valid_name`, starting with a letter or digit,
    at most ``max_length`` characters (the firmware's autostart parser keeps 31; a fleet's device,
    deployment and fleet names are one MQTT topic level of at most 63)."""
    return 0 < len(name) <= max_length and name[0] not in "._-" and _NAME_CHARS.issuperset(name)


def check_name(name: str, *, what: str = "name") -> str:
    """Return ``name`` or raise :class:`InvalidInput` naming the rule."""
    if not isinstance(name, str) or not is_valid_name(name):
        raise InvalidInput.field(None, what, name, NAME_RULE)
    return name


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``did you mean 'ps'?`` for a typo of one of ``choices`` (difflib's closest), else None."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def generate_id(taken: Container[str], *, attempts: int = 100) -> str:
    """A 7-hex-character ID not in ``taken`` (upstream retries up to 100 times)."""
    for _ in range(attempts):
        candidate = os.urandom(4).hex()[:7]
        if candidate not in taken:
            return candidate
    raise Conflict(f"could not generate a unique container ID after {attempts} attempts")
