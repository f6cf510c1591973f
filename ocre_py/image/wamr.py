"""What a WAMR build can load: its ``WAMR_BUILD_*`` options, and the check of a module against them.

WAMR's loader refuses, at load time on the board, any instruction whose proposal the firmware was
built without — and a padded ``call_indirect`` table index unless ``WAMR_BUILD_CALL_INDIRECT_OVERLONG``
(or reference types) is on. The message appears on the device's console, long after the module
left the developer's machine. So every deploy checks the module here first, against the options of
the firmware it is going to: the Ocre core's (``zephyr/wamr.cmake`` of the pinned ocre-runtime), the
tiny profile's (``zephyr_app/src/tiny/tiny.cmake``), or what a build directory recorded.

The implications mirror WAMR's ``build-scripts/config_common.cmake`` (WAMR 2.4): ``REF_TYPES`` and
``LIME1`` turn on ``CALL_INDIRECT_OVERLONG``; ``BULK_MEMORY`` defaults to on; everything else to off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ocre_py.errors import ImageError
from ocre_py.image.wasm import (
    BULK_MEMORY,
    EXCEPTIONS,
    GC,
    REF_TYPES,
    SIMD,
    TAIL_CALL,
    THREADS,
    CodeFacts,
)

#: proposal → the WAMR CMake option that enables it.
OPTIONS: dict[str, str] = {
    REF_TYPES: "WAMR_BUILD_REF_TYPES",
    BULK_MEMORY: "WAMR_BUILD_BULK_MEMORY",
    SIMD: "WAMR_BUILD_SIMD",
    THREADS: "WAMR_BUILD_SHARED_MEMORY",
    TAIL_CALL: "WAMR_BUILD_TAIL_CALL",
    EXCEPTIONS: "WAMR_BUILD_EXCE_HANDLING",
    GC: "WAMR_BUILD_GC",
}
OVERLONG = "WAMR_BUILD_CALL_INDIRECT_OVERLONG"
_DEFAULTS = {"WAMR_BUILD_BULK_MEMORY": True}


@dataclass(frozen=True)
class WamrBuild:
    """The proposals a WAMR build's loader accepts (``origin`` says where the options came from)."""

    origin: str
    proposals: frozenset[str]
    call_indirect_overlong: bool

    @classmethod
    def from_options(cls, origin: str, options: Mapping[str, str | int | bool]) -> WamrBuild:
        """From ``WAMR_BUILD_*`` values as CMake writes them (``1``/``0``, ``ON``/``OFF``).

        An option left unset takes WAMR's default."""

        def on(name: str) -> bool:
            value = options.get(name)
            if value is None:
                return _DEFAULTS.get(name, False)
            return str(value).strip().upper() in ("1", "ON", "TRUE", "YES", "Y")

        proposals = frozenset(
            p for p, opt in OPTIONS.items() if on(opt) or (p == REF_TYPES and on("WAMR_BUILD_GC"))
        )
        overlong = on(OVERLONG) or on("WAMR_BUILD_REF_TYPES") or on("WAMR_BUILD_LIME1") or on("WAMR_BUILD_GC")
        return cls(origin, proposals, overlong)

    def as_options(self) -> dict[str, int]:
        """The options back as CMake values (what a build directory records)."""
        out = {opt: int(p in self.proposals) for p, opt in OPTIONS.items()}
        out[OVERLONG] = int(self.call_indirect_overlong)
        return out

    def problems(self, facts: CodeFacts) -> list[str]:
        """What in ``facts`` this build's loader refuses, each naming the option that would allow it."""
        out = [
            f"uses {p} (firmware built without {OPTIONS[p]})"
            for p in sorted(facts.proposals - self.proposals)
        ]
        if facts.padded_table_index and not self.call_indirect_overlong:
            out.append(
                f"{facts.padded_table_index} call_indirect with a padded table index "
                f"(firmware built without {OVERLONG})"
            )
        return out

    def require_loadable(self, facts: CodeFacts, *, source: str) -> None:
        """Raise :class:`ImageError` naming everything this build would refuse to load."""
        problems = self.problems(facts)
        if problems:
            raise ImageError(
                f"{source}: WAMR of {self.origin} cannot load it: {'; '.join(problems)}",
                hint="rebuild the container with 'ocre build' (it links with --compress-relocations "
                "and the default features), or the firmware with the options named",
            )


#: The Ocre core's WAMR (ocre-runtime ``zephyr/wamr.cmake`` at the commit west.yml pins).
OCRE_CORE = WamrBuild.from_options(
    "the Ocre core (ocre-runtime zephyr/wamr.cmake)",
    {"WAMR_BUILD_REF_TYPES": 1, "WAMR_BUILD_SHARED_HEAP": 1, "WAMR_BUILD_LIB_WASI_THREADS": 1},
)
#: The tiny profile's WAMR (``zephyr_app/src/tiny/tiny.cmake``; a test keeps the two in step).
TINY = WamrBuild.from_options(
    "the tiny profile (zephyr_app/src/tiny/tiny.cmake)",
    {
        "WAMR_BUILD_REF_TYPES": 0,
        "WAMR_BUILD_SIMD": 0,
        "WAMR_BUILD_SHARED_MEMORY": 0,
        OVERLONG: 1,
    },
)
#: Tiny firmware built before tiny.cmake recorded its options (and before it set OVERLONG).
TINY_UNRECORDED = WamrBuild.from_options(
    "a tiny-profile build that records no WAMR options (built by an older toolkit)",
    {"WAMR_BUILD_REF_TYPES": 0},
)

#: The CMake cache entry where tiny.cmake records its options (``NAME=VALUE;...``).
CACHE_KEY = "OCRE_WAMR_OPTIONS"


def from_cache_value(value: str, *, origin: str) -> WamrBuild:
    """Parse :data:`CACHE_KEY`'s ``WAMR_BUILD_X=1;WAMR_BUILD_Y=0`` value."""
    pairs = dict(item.partition("=")[::2] for item in value.split(";") if "=" in item)
    return WamrBuild.from_options(origin, pairs)
