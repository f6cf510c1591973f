"""The Linux runtime: runs Ocre containers on wasmtime with the Ocre ``env`` ABI (spec sections 1–9).

Names are imported on first use (PEP 562), so a client that only needs :mod:`.options` (a create
request's checks: ``ocre run`` through the daemon) never loads wasmtime.
"""

from __future__ import annotations

from ocre_py.lazy import lazy_exports

TYPE_CHECKING = False  # not typing's: clients import this package at start-up (issue 14)
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

__getattr__ = lazy_exports(
    __name__,
    {
        "container": "Container",
        "devices": "SimulatedDevices",
        "runtime": "RUNTIMES Runtime",
        "spec": "CAPABILITIES ContainerSpec Mount",
        "state": "EXIT_CPU_BUDGET EXIT_KILLED EXIT_TIMEOUT EXIT_TRAPPED ContainerState",
    },
)

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
