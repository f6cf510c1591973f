"""The Linux runtime: runs Ocre containers on wasmtime with the Ocre ``env`` ABI (spec sections 1–9).

Names are imported on first use (PEP 562), so a client that only needs :mod:`.spec` (a create
request's checks: ``ocre run`` through the daemon) never loads wasmtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocre_py.runtime.container import Container
    from ocre_py.runtime.devices import SimulatedDevices
    from ocre_py.runtime.runtime import RUNTIMES, Runtime
    from ocre_py.runtime.spec import CAPABILITIES, ContainerSpec, Mount
    from ocre_py.runtime.state import (
        EXIT_CPU_BUDGET,
        EXIT_KILLED,
        EXIT_TIMEOUT,
        EXIT_TRAPPED,
        ContainerState,
    )

_LAZY = {
    "Container": "ocre_py.runtime.container",
    "SimulatedDevices": "ocre_py.runtime.devices",
    "RUNTIMES": "ocre_py.runtime.runtime",
    "Runtime": "ocre_py.runtime.runtime",
    "CAPABILITIES": "ocre_py.runtime.spec",
    "ContainerSpec": "ocre_py.runtime.spec",
    "Mount": "ocre_py.runtime.spec",
    "EXIT_CPU_BUDGET": "ocre_py.runtime.state",
    "EXIT_KILLED": "ocre_py.runtime.state",
    "EXIT_TIMEOUT": "ocre_py.runtime.state",
    "EXIT_TRAPPED": "ocre_py.runtime.state",
    "ContainerState": "ocre_py.runtime.state",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CAPABILITIES",
    "EXIT_CPU_BUDGET",
    "EXIT_KILLED",
    "EXIT_TIMEOUT",
    "EXIT_TRAPPED",
    "RUNTIMES",
    "Container",
    "ContainerSpec",
    "ContainerState",
    "Mount",
    "Runtime",
    "SimulatedDevices",
]
