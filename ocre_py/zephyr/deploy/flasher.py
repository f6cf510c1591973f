"""Data-only flashing of the storage partition: only the erase blocks that changed, through pyocd.

Why pyocd and not ``west flash``: west's runners program whole files, and some erase the whole chip
first (b_u585i's default ``stm32cubeprogrammer`` passes ``--erase``), which would wipe the firmware
for a container update. pyocd's loader erases by sector, so the firmware and unchanged blocks stay.

The device is injected (:class:`FlashDevice`), the way pyocd's ``FileProgrammer`` takes a session:
unit tests pass a fake, :func:`open_pyocd` opens a real probe and fails fast when there is none
(``blocking=False``: the pyocd CLI without ``-W`` would wait for a probe forever).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from ocre_py.errors import DeployError
from ocre_py.progress import Progress
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.deploy import delta as delta_mod

log = logging.getLogger(__name__)

#: Runners that mass-erase before every write whatever their arguments say (data, not board names).
FULL_CHIP_ERASE_RUNNERS = frozenset({"stm32cubeprogrammer"})
#: Runner arguments that make a whole-file write erase the entire chip.
_FULL_ERASE_ARGS = ("--erase", "-e", "--chip-erase", "--erase-all", "mass_erase")


class FlashDevice(Protocol):
    """What the incremental flasher needs from a probe."""

    def read(self, address: int, size: int) -> bytes: ...

    def program(self, ranges: Sequence[tuple[int, bytes]], progress: Progress | None) -> None:
        """Erase the sectors covering each range, then program it."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FlashResult:
    """What a data-only flash did; the CLI prints it, ``--json`` dumps it, benchmarks read it."""

    address: int
    blocks_total: int
    blocks_changed: int
    bytes_erased: int
    bytes_written: int
    bytes_skipped: int
    verified_against_device: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PyOCDDevice:
    """A pyocd session as a :class:`FlashDevice` (sector erase, no smart-flash re-reads)."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.session.target.read_memory_block8(address, size))

    def program(self, ranges: Sequence[tuple[int, bytes]], progress: Progress | None) -> None:
        from pyocd.flash.loader import MemoryLoader

        fraction = None if progress is None else (lambda f: progress(int(f * 1000), 1000))  # pyocd: 0..1
        loader = MemoryLoader(self.session, progress=fraction, chip_erase="sector", smart_flash=False)
        for address, data in ranges:
            loader.add_data(address, data)
        loader.commit()

    def close(self) -> None:
        self.session.close()


def open_pyocd(
    target: str, *, unique_id: str | None = None, pack: str | None = None, frequency: int | None = None
) -> PyOCDDevice:
    """Open the first (or ``unique_id``) probe for ``target``; raise at once when none is connected."""
    try:
        from pyocd.core.helpers import ConnectHelper
    except ImportError:
        raise DeployError("pyocd is not installed", hint="pip install pyocd") from None
    options: dict[str, Any] = {"target_override": target}
    if pack and Path(pack).is_file():
        options["pack"] = pack  # a .pack file; a pack *name* is found by pyocd in its installed packs
    elif pack:
        log.debug("pack %s is not a file: relying on 'pyocd pack install' for target %s", pack, target)
    if frequency:
        options["frequency"] = frequency
    # Ask for the probe list first: pyocd's chooser prints to stdout when there is none.
    probes = ConnectHelper.get_all_connected_probes(
        blocking=False, unique_id=unique_id, print_wait_message=False
    )
    if not probes:
        raise DeployError(
            "no debug probe connected" + (f" with id {unique_id}" if unique_id else ""),
            hint="connect the board's ST-LINK/CMSIS-DAP probe, or write files only with -o DIR",
        )
    session = ConnectHelper.session_with_chosen_probe(
        blocking=False, return_first=True, unique_id=unique_id, options=options
    )
    if session is None:
        raise DeployError(
            "no debug probe connected" + (f" with id {unique_id}" if unique_id else ""),
            hint="connect the board's ST-LINK/CMSIS-DAP probe, or write files only with -o DIR",
        )
    session.open()
    return PyOCDDevice(session)


def flash_incremental(
    device: FlashDevice,
    image: bytes,
    geometry: Geometry,
    *,
    last_deployed: bytes | None,
    verify: bool = True,
    progress: Progress | None = None,
) -> FlashResult:
    """Program only the erase blocks of ``image`` that differ from what the partition holds.

    ``last_deployed`` is the copy kept in the build dir; with ``verify`` the device's partition is read
    back first, and when it differs (someone flashed by other means) the diff is taken against the
    device instead, so the result is always right.
    """
    started = time.monotonic()
    base = last_deployed
    verified = False
    if verify:
        on_device = device.read(geometry.address, geometry.size)
        verified = True
        if base is not None and on_device != base:
            log.warning("device partition differs from the last deployed image; diffing against the device")
        base = on_device
    plan = delta_mod.diff(base, image, address=geometry.address, erase_block=geometry.erase_block)
    if plan.changes:
        device.program(plan.ranges(), progress)
    log.info(
        "flashed %d of %d blocks at %#x (%d bytes erased)",
        plan.blocks_changed,
        plan.total_blocks,
        geometry.address,
        plan.bytes_erased,
    )
    return FlashResult(
        address=geometry.address,
        blocks_total=plan.total_blocks,
        blocks_changed=plan.blocks_changed,
        bytes_erased=plan.bytes_erased,
        bytes_written=plan.bytes_written,
        bytes_skipped=plan.bytes_skipped,
        verified_against_device=verified,
        seconds=round(time.monotonic() - started, 3),
    )


@dataclass(frozen=True)
class RunnerInfo:
    """The build's flash runner from ``B/zephyr/runners.yaml`` (CMake's contract with ``west flash``)."""

    name: str
    args: tuple[str, ...]
    pyocd_target: str | None

    @property
    def erases_whole_chip(self) -> bool:
        """True when this runner would mass-erase before writing a data-only file."""
        return any(a.split("=", 1)[0] in _FULL_ERASE_ARGS for a in self.args)


def read_runner(app_build_dir: str | Path, runner: str | None = None) -> RunnerInfo | None:
    """Default (or named) runner of a build; ``None`` when the build has no ``runners.yaml``."""
    path = Path(app_build_dir) / "zephyr" / "runners.yaml"
    if not path.is_file():
        return None
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    name = runner or data.get("flash-runner") or ""
    all_args = data.get("args") or {}
    pyocd_target = None
    for arg in all_args.get("pyocd", []) or []:
        if str(arg).startswith("--target="):
            pyocd_target = str(arg).split("=", 1)[1]
    return RunnerInfo(str(name), tuple(str(a) for a in all_args.get(name, []) or []), pyocd_target)
