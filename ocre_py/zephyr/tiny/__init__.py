"""The tiny profile: Wasm containers on a 64 KB-RAM MCU (docs/tiny.md).

The top wing of the Zephyr room: nothing imports it. Importing it registers what it adds to the
tables the other wings read (:mod:`ocre_py.zephyr.plugins` does so on first use): the ``bundle``
storage format (:mod:`.bundle_format`) and the ``tiny`` firmware planner (:mod:`.plan`).
``profile`` is the tiny view of a board and of what the firmware serves, ``budget`` the flash/RAM
table checked before anything is built or flashed.
"""

from ocre_py.zephyr.tiny import bundle_format, plan

__all__ = ["bundle_format", "plan"]
