"""Profiles that plug into the Zephyr room's tables instead of being imported by the wings.

Zephyr's ``runners/__init__.py`` imports every runner module so each registers itself in the table
``west flash`` reads; this does the same for the profiles, on the first lookup a table cannot
answer, so a command that needs none pays nothing. A profile module registers, at import, what it
adds: the tiny profile its ``bundle`` storage format and its firmware build plan.
"""

from __future__ import annotations

import importlib

#: Modules that register into the tables: the standard LittleFS format, then the profiles.
MODULES = ("ocre_py.zephyr.storage.littlefs", "ocre_py.zephyr.tiny")


def load() -> None:
    for name in MODULES:
        importlib.import_module(name)
