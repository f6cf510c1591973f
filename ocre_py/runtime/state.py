"""Container states with upstream Ocre's numeric values and 7-character ``ps`` labels."""

from __future__ import annotations

from enum import IntEnum


class ContainerState(IntEnum):
    UNKNOWN = 0
    CREATED = 1
    RUNNING = 2
    PAUSED = 3
    EXITED = 4
    STOPPED = 5
    ERROR = 6

    @property
    def label(self) -> str:
        """The fixed-width label upstream's ``ps`` prints (``PAUSED `` has a trailing space)."""
        return self.name.ljust(7)


#: Exit codes for containers the runtime ended (Docker/POSIX conventions; spec D3/D4).
EXIT_KILLED = 137  # 128 + SIGKILL
EXIT_TRAPPED = 134  # 128 + SIGABRT, as the wasmtime CLI reports a trap
EXIT_TIMEOUT = 124  # GNU timeout's code for --timeout
EXIT_CPU_BUDGET = 152  # 128 + SIGXCPU for --cpu-budget
