"""The Ocre toolkit: build, package, deploy and run WebAssembly containers on Zephyr MCUs and Linux.

The library never prints or exits; the `ocre` CLI (`ocre_py.cli`) and the west extension
(`west_commands/`) are the only layers that talk to a terminal.
"""

from ocre_py.errors import InvalidInput, OcreError

__version__ = "0.1.0"
#: The upstream Ocre release whose container ABI this toolkit follows.
OCRE_API_VERSION = "0.7.0"

__all__ = ["OCRE_API_VERSION", "InvalidInput", "OcreError", "__version__"]
