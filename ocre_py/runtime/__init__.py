"""The Linux runtime: runs Ocre containers on wasmtime with the Ocre ``env`` ABI (spec sections 1–9)."""

from ocre_py.runtime.container import Container
from ocre_py.runtime.devices import SimulatedDevices
from ocre_py.runtime.runtime import RUNTIMES, Runtime
from ocre_py.runtime.spec import CAPABILITIES, ContainerSpec, Mount
from ocre_py.runtime.state import EXIT_CPU_BUDGET, EXIT_KILLED, EXIT_TIMEOUT, EXIT_TRAPPED, ContainerState

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
