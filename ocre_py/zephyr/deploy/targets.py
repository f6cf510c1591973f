"""Deploy targets: where a request's containers go, chosen by :func:`choose_target`.

:data:`TARGETS` maps a name (``device``, ``qemu``, ``native_sim``, ``files``; the Linux side
registers ``linux`` from :mod:`ocre_py.daemon.linux_deploy`) to a :class:`DeployTarget`. Each
target's public :meth:`DeployTarget.deploy` does the shared checks and calls its ``do_deploy`` hook
(the ``WestCommand.run``/``do_run`` shape).

Target choice (:func:`choose_target`, the precedence written where it is implemented): ``-o`` →
files; ``--qemu`` → qemu; ``--native-sim`` → native_sim; ``-b``/``-d`` → by the board's kind;
nothing → the local Linux runtime.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any, ClassVar

from ocre_py.errors import BoardError, DeployError, InvalidInput, MissingProgram, NotFound
from ocre_py.fsutil import atomic_write
from ocre_py.progress import Progress
from ocre_py.zephyr.board.database import lookup_board
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.deploy import flasher
from ocre_py.zephyr.deploy.flasher import FlashDevice
from ocre_py.zephyr.deploy.pack import (
    board_name,
    output_paths,
    pack_partition,
    resolve_board,
    resolve_geometry,
    state_dir,
)
from ocre_py.zephyr.deploy.request import DeployRequest, DeployResult
from ocre_py.zephyr.project import build_dir as bdir
from ocre_py.zephyr.storage.formats import get_format
from ocre_py.zephyr.storage.native_flash import read_flash_bin, write_flash_bin

log = logging.getLogger(__name__)


class DeployTarget:
    """Base: :meth:`deploy` checks the request, then calls :meth:`do_deploy`."""

    name: ClassVar[str] = ""
    #: Options this target accepts beyond the common ones (others are refused, not ignored).
    accepts: ClassVar[frozenset[str]] = frozenset()

    def deploy(self, req: DeployRequest, *, progress: Progress | None = None) -> DeployResult:
        for opt in ("merged", "runner", "full", "probe"):
            if getattr(req, opt) and opt not in self.accepts:
                raise InvalidInput.field(
                    None, f"--{opt}", getattr(req, opt), f"not used by the {self.name} target"
                )
        return self.do_deploy(req, progress=progress)

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None) -> DeployResult:
        raise NotImplementedError


class FilesTarget(DeployTarget):
    """``-o FILE|DIR``: only write the partition image files (previous file at FILE is kept and extended)."""

    name = "files"

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None) -> DeployResult:
        _, _, result = pack_partition(req, previous_path=output_paths(req).bin, progress=progress)
        return result


class DeviceTarget(DeployTarget):
    """``-b BOARD``/``-d BUILD``: pack, then flash only the changed erase blocks (or ``--merged``).

    Capabilities are checked before anything is packed. With a probe, the partition is read back
    first and the new image is packed on top of what the device really holds (an erased partition
    starts fresh; anything else that is not LittleFS with this geometry needs ``--replace``).
    """

    name = "device"
    accepts = frozenset({"merged", "runner", "full", "probe"})

    def __init__(self, device: FlashDevice | None = None) -> None:
        """``device``: an open flash device to use instead of connecting through pyocd (tests)."""
        self.device = device

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None) -> DeployResult:
        last = state_dir(req) / "deployed.bin"
        board = resolve_board(req)
        geometry = resolve_geometry(req, board)
        app_dir = bdir.app_dir(req.build_dir) if req.build_dir is not None else None
        runner = flasher.read_runner(app_dir, req.runner) if app_dir else None
        paths = output_paths(req)
        storage_hex, merged_hex = paths.hex, paths.merged
        device = self.device

        if req.merged or (req.runner and req.runner != "pyocd"):
            cmd = self._west_flash_command(req, geometry, runner, storage_hex, merged_hex)
            data, _, result = pack_partition(req, previous_path=last, progress=progress)
            result.target, result.command = "device", cmd
            if not req.dry_run:
                _run_checked(cmd)
                atomic_write(last, data)
            return result

        if geometry.load_address is None:
            raise BoardError(
                f"{geometry.source}: the storage partition is a RAM-backed flash simulator; nothing to flash",
                hint="use --qemu or --native-sim",
            )
        target = (runner.pyocd_target if runner else None) or (board.pyocd_target if board else None)
        if not target:
            default = (runner.name if runner else None) or (board.default_runner if board else None)
            raise BoardError(
                f"no pyocd target for this board: incremental flashing needs pyocd "
                f"(default runner: {default or 'none'})",
                hint="use --merged, or add a pyocd target for the board",
            )
        if req.dry_run:
            _, _, result = pack_partition(req, previous_path=last, progress=progress)
            result.target = "device"
            result.command = ["pyocd", "flash", "-t", target, "-e", "sector", "-a", hex(geometry.address)]
            result.command.append(str(paths.bin))
            return result
        if device is None:
            try:
                device = flasher.open_pyocd(
                    target, unique_id=req.probe, pack=board.pyocd_pack if board else None
                )
            except DeployError:
                pack_partition(req, previous_path=last, progress=progress)  # files for a manual flash
                raise
        try:
            on_device = device.read(geometry.address, geometry.size)
            base = self._device_base(on_device, geometry, req)
            data, _, result = pack_partition(req, previous_path=last, previous_data=base, progress=progress)
            result.target = "device"
            res = flasher.flash_incremental(
                device,
                data,
                geometry,
                last_deployed=None if req.full else on_device,
                verify=False,  # on_device was just read: it *is* the verification
                progress=progress,
            )
        finally:
            device.close()
        atomic_write(last, data)
        result.files["deployed.bin"] = str(last)
        result.flash = res.to_dict() | {"verified_against_device": True}
        return result

    @staticmethod
    def _device_base(on_device: bytes, geometry: Geometry, req: DeployRequest) -> bytes | None:
        """What to pack on top of: the device's volume, nothing for erased flash, else refuse."""
        if req.replace or on_device.count(0xFF) == len(on_device):
            return None
        try:
            get_format(req.format).list(on_device, geometry, source=f"device @ {geometry.address:#x}")
        except DeployError as exc:
            raise DeployError(
                f"{exc.message}: the partition holds data that is not an Ocre image",
                hint="use --replace to overwrite it",
            ) from None
        return on_device

    @staticmethod
    def _west_flash_command(
        req: DeployRequest,
        geometry: Geometry,
        runner: flasher.RunnerInfo | None,
        storage_hex: Path,
        merged_hex: Path,
    ) -> list[str]:
        """``west flash`` for ``--merged`` or ``--runner R``; refuses a chip-erasing data-only write."""
        if req.merged:
            if req.build_dir is None or bdir.zephyr_hex(req.build_dir) is None:
                raise DeployError(
                    "--merged needs a build with zephyr/zephyr.hex",
                    hint="build with CONFIG_BUILD_OUTPUT_HEX=y and pass -d BUILD_DIR",
                )
            cmd = ["west", "flash", "-d", str(req.build_dir), "--skip-rebuild", "--hex-file", str(merged_hex)]
            return cmd + (["-r", req.runner] if req.runner else [])
        assert req.runner is not None
        info = runner or flasher.RunnerInfo(req.runner, (), None)
        if info.erases_whole_chip or req.runner in flasher.FULL_CHIP_ERASE_RUNNERS:
            raise DeployError(
                f"runner {req.runner} erases the whole chip before a write: flashing only the storage "
                "partition would wipe the firmware",
                hint="use --merged (flash app + storage together) or the pyocd runner (sector erase)",
            )
        if geometry.load_address is None:
            raise BoardError("this storage partition is not memory-mapped: it cannot be flashed from a hex")
        cmd = ["west", "flash", "-r", req.runner, "--skip-rebuild", "--hex-file", str(storage_hex)]
        if req.build_dir is not None:
            cmd[2:2] = ["-d", str(req.build_dir)]
        return cmd


class QemuTarget(DeployTarget):
    """``--qemu`` (or a QEMU board): write the image files; ``run --storage`` (or ``run -d``) boots them."""

    name = "qemu"

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None) -> DeployResult:
        _, geometry, result = pack_partition(req, previous_path=output_paths(req).bin, progress=progress)
        result.target = "qemu"
        if geometry.load_address is None:
            log.warning(
                "%s: the storage partition is a flash simulator without a memory-region: QEMU boots it empty",
                geometry.source,
            )
        return result


class NativeSimTarget(DeployTarget):
    """``--native-sim``: write ``flash.bin`` (the simulated flash) beside the storage image."""

    name = "native_sim"

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None) -> DeployResult:
        bin_path = output_paths(req).bin
        flash_bin = bin_path.parent / "flash.bin"
        data, geometry, result = pack_partition(req, previous_path=bin_path, progress=progress)
        result.target = "native_sim"
        if not req.dry_run:
            write_flash_bin(flash_bin, data, geometry)
            result.files["flash.bin"] = str(flash_bin)
        return result


def _run_checked(cmd: list[str]) -> None:
    if shutil.which(cmd[0]) is None:
        raise MissingProgram(cmd[0])
    log.info("running %s", shlex.join(cmd))
    subprocess.run(cmd, check=True)


#: Deploy targets by name (the ``--json`` ``target`` field).
TARGETS: dict[str, DeployTarget] = {
    t.name: t for t in (DeviceTarget(), QemuTarget(), NativeSimTarget(), FilesTarget())
}


def register_target(target: DeployTarget) -> DeployTarget:
    """Add (or replace) a target by its name: how the Linux side plugs ``linux`` in."""
    TARGETS[target.name] = target
    return target


def choose_target(req: DeployRequest) -> str:
    """Precedence: ``-o`` → files, ``--qemu``, ``--native-sim``, ``-b``/``-d`` → the board's kind
    (a QEMU board gets the files ``run`` boots, native_sim its flash file, a real board is flashed),
    else linux. The board of ``-d`` alone is the one its CMake cache recorded."""
    if req.qemu and req.native_sim:
        raise InvalidInput.field(None, "target", "--qemu --native-sim", "one of them")
    if req.output is not None and not (req.qemu or req.native_sim):
        return "files"
    if req.qemu:
        return "qemu"
    if req.native_sim:
        return "native_sim"
    if req.board or req.build_dir:
        name = board_name(req)
        kind = _board_kind(name) if name else None
        return {"qemu": "qemu", "native": "native_sim"}.get(kind or "", "device")
    return "linux"


def _board_kind(target: str) -> str | None:
    """``qemu``, ``native`` or ``mcu`` for a board target in the database, None for one it lacks."""
    try:
        return lookup_board(target.split("@")[0]).type
    except NotFound:
        return None


def deploy(
    req: DeployRequest, *, progress: Progress | None = None, device: FlashDevice | None = None
) -> DeployResult:
    """Deploy ``req`` to the target it names (see :func:`choose_target`); ``device`` replaces the
    pyocd connection of a board target (a test's fake probe)."""
    name = choose_target(req)
    if device is not None:
        if name != "device":
            raise InvalidInput.field(None, "device", name, "a board target (-b/-d without -o/--qemu)")
        return DeviceTarget(device).deploy(req, progress=progress)
    if name not in TARGETS:
        raise DeployError(
            f"no {name} deploy target is registered",
            hint="the Linux target lives in ocre_py.daemon.linux_deploy: import it to register it",
        )
    return TARGETS[name].deploy(req, progress=progress)


def list_partition(path: Path, *, geometry: Geometry, fmt: str = "littlefs") -> list[dict[str, Any]]:
    """Containers in a partition image file (``storage.bin``, or a native_sim ``flash.bin``)."""
    if not path.is_file():
        raise InvalidInput.field(None, "partition image", str(path), "an existing file")
    data = path.read_bytes()
    if len(data) > geometry.size:  # a whole-flash file (flash.bin): cut the partition out of it
        data = read_flash_bin(path, geometry)
    return get_format(fmt).list(data, geometry, source=str(path))


def list_device(
    req: DeployRequest, *, device: FlashDevice | None = None, fmt: str = "littlefs"
) -> list[dict[str, Any]]:
    """Read the storage partition back from a board through pyocd and list it."""
    board = resolve_board(req)
    geometry = resolve_geometry(req, board)
    if device is None:
        target = board.pyocd_target if board else None
        if not target:
            raise BoardError("listing a device needs a pyocd target for the board")
        device = flasher.open_pyocd(target, unique_id=req.probe, pack=board.pyocd_pack if board else None)
    try:
        data = device.read(geometry.address, geometry.size)
    finally:
        device.close()
    return get_format(fmt).list(data, geometry, source=f"device @ {geometry.address:#x}")


def list_file(path: Path, req: DeployRequest) -> list[dict[str, Any]]:
    """Containers in a partition image file, whatever it is: a tiny bundle (self-describing), a
    LittleFS image at the request's geometry (``-b``/``-d``), or one whose block size is recovered
    from its superblock."""
    from ocre_py.zephyr.storage.bundle import is_bundle_file
    from ocre_py.zephyr.storage.littlefs import detect_geometry

    if not path.is_file():
        raise InvalidInput.field(None, "partition image", str(path), "an existing file")
    has_target = bool(req.board or req.build_dir)
    if is_bundle_file(path):
        data = path.read_bytes()
        bundle = get_format("bundle")
        geometry = (
            bundle.geometry(board=resolve_board(req), build_dir=req.build_dir, medium=None)
            if has_target
            else Geometry(address=0, size=len(data), erase_block=1, source=str(path))
        )
        return bundle.list(data, geometry, source=str(path))
    if has_target:
        return list_partition(path, geometry=resolve_geometry(req, resolve_board(req)))
    return list_partition(path, geometry=detect_geometry(path.read_bytes(), source=str(path)))
