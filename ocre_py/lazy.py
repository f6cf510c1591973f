"""Packages that import their names on first use (PEP 562), so a light caller pays for one module.

``__getattr__ = lazy_exports(__name__, {"submodule": "Name OtherName", ...})`` in a package's
``__init__``; the same names stay importable (``from ocre_py.runtime import Runtime``) and are listed
under ``TYPE_CHECKING`` for type checkers.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~4 ms; every command imports this)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def lazy_exports(package: str, table: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``table`` (submodule → space-separated names)."""
    where = {name: f"{package}.{module}" for module, names in table.items() for name in names.split()}

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
