"""The one progress-callback signature of the library: ``progress(done, total)``.

Long operations (packing a partition, flashing, pushing and pulling layers) report how much of the
work is done in their own units (bytes, blocks, containers); the CLI turns the calls into a progress
bar on a terminal and nothing in a pipe. The library never draws anything itself.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
