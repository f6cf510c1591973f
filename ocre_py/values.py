"""A base for small records on the client start-up path, compared by value like a frozen dataclass.

``ocre ps`` and an attached ``ocre run`` build a handful of records (a daemon address, a restart
policy, a trust policy, a resolved image). As dataclasses they would cost :mod:`dataclasses`'
import (it imports :mod:`inspect`, ~10 ms) and ~2 ms a class for the methods it generates, more than
the whole budget of such a command (issue 14). A subclass names its fields in ``__slots__``, sets
them in ``__init__`` and leaves them alone after (immutable by convention: nothing enforces it).
"""

from __future__ import annotations


class Value:
    """Equality, hashing and ``repr`` from the fields a subclass lists in ``__slots__``."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
