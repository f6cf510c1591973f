"""What the daemon reports about processes: resident memory, read from ``/proc`` (Linux only).

Kept apart from the service so ``ocre info`` and the benchmarks measure the same way.
"""

from __future__ import annotations

from pathlib import Path


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from ``/proc/<pid>/status`` (0 when unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
