"""The syntax of a container's options as users and create requests give them: environment
entries, capabilities, address pools (spec section 1).

Apart from :mod:`.spec`, whose dataclasses cost a client ~15 ms to import (issue 14): a client
checks these when it builds a create request (:func:`ocre_py.daemon.requests.create_request`).
"""

from __future__ import annotations

from ocre_py.errors import InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

CAP_API = "ocre:api"
CAP_SHARED_HEAP = "ocre:shared_heap"
CAP_NETWORKING = "networking"
CAP_FILESYSTEM = "filesystem"
CAPABILITIES = (CAP_API, CAP_SHARED_HEAP, CAP_NETWORKING, CAP_FILESYSTEM)


def parse_env(items: Sequence[str]) -> list[str]:
    """``K=V`` entries, kept verbatim and in order (spec 1.1)."""
    for item in items:
        if "=" not in item or item.startswith("="):
            raise InvalidInput.field(None, "environment entry", item, "KEY=VALUE")
    return list(items)


def check_capabilities(caps: Sequence[str]) -> tuple[str, ...]:
    for cap in caps:
        if cap not in CAPABILITIES:
            raise InvalidInput.field(None, "capability", cap, f"one of {', '.join(CAPABILITIES)}")
    return tuple(dict.fromkeys(caps))


def parse_addr_pool(entries: Iterable[str]) -> tuple[str, ...]:
    """Check ``ADDRESS/MASK`` entries as WAMR's ``wasm_runtime_set_wasi_addr_pool`` does."""
    entries = tuple(entries)
    if not entries:
        return ()
    import ipaddress  # only when a pool is given (~2 ms)

    out = []
    for entry in entries:
        address, sep, mask = entry.partition("/")
        try:
            if not sep or not mask.isdigit():
                raise ValueError
            ip = ipaddress.ip_address(address)
            if int(mask) > ip.max_prefixlen:
                raise ValueError
        except ValueError:
            raise InvalidInput.field(
                None, "address pool entry", entry, "ADDRESS/MASK (e.g. 127.0.0.1/8 or ::1/128)"
            ) from None
        out.append(f"{ip}/{int(mask)}")
    return tuple(out)
