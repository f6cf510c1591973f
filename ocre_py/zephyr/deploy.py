"""``deploy``: put containers where an Ocre runtime will find them, dispatched by two tables.

:data:`TARGETS` maps where (``linux``, ``device``, ``qemu``, ``native_sim``, ``files``) to a
:class:`DeployTarget`; :data:`FORMATS` maps how the storage is laid out (``littlefs`` here; the tiny
profile registers ``bundle``) to a :class:`StorageFormat`. Each target's public :meth:`deploy` does
the shared checks and calls its ``do_deploy`` hook (the ``WestCommand.run``/``do_run`` shape).

Target choice (:func:`choose_target`, the precedence written where it is implemented):
``-o`` → files; ``--qemu`` → qemu; ``--native-sim`` → native_sim; ``-b``/``-d`` → device;
nothing → the local Linux runtime.

Files a partition deploy writes (all atomically) into ``<build>/ocre/`` (or ``-o``):
``storage.bin``, ``storage.hex`` (at the absolute partition address) and, when the build has
``zephyr.hex``, ``merged.hex``. The last image flashed to a device is kept as
``<build>/ocre/deployed.bin``: the base of the next incremental flash.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ocre_py.errors import BoardError, DeployError, ImageError, InvalidInput
from ocre_py.fsutil import atomic_write, atomic_write_many, file_lock
from ocre_py.image import wamr
from ocre_py.image.wamr import WamrBuild
from ocre_py.image.wasm import is_aot, parse_module, scan_code
from ocre_py.zephyr import autostart
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.project import build_dir as bdir

log = logging.getLogger(__name__)

Progress = Callable[[float], None]
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


# --------------------------------------------------------------------------------------------------
# Request and result
# --------------------------------------------------------------------------------------------------
@dataclass
class DeployRequest:
    """What the user asked for, already parsed (both CLI skins build one of these)."""

    sources: Sequence[str]
    name: str | None = None
    env: Sequence[str] = ()
    capabilities: Sequence[str] = ()
    args: Sequence[str] = ()
    autostart: bool = False
    replace: bool = False
    board: str | None = None
    build_dir: Path | None = None
    qemu: bool = False
    native_sim: bool = False
    output: Path | None = None
    merged: bool = False
    runner: str | None = None
    full: bool = False
    probe: str | None = None
    medium: str | None = None
    format: str = "littlefs"
    dry_run: bool = False
    require_signature: bool = False  # or the workdir's trust policy (ocre_py.image.trust)


@dataclass
class DeployResult:
    """What a deploy did; the CLI prints it and ``--json`` dumps it."""

    target: str
    images: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    geometry: dict[str, Any] | None = None
    flash: dict[str, Any] | None = None
    container_id: str | None = None
    exit_code: int | None = None
    command: list[str] | None = None
    used_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceImage:
    """One container to deploy: the file name it gets in ``images/`` and its bytes' location."""

    image_name: str
    path: Path


# --------------------------------------------------------------------------------------------------
# Storage formats
# --------------------------------------------------------------------------------------------------
class StorageFormat(Protocol):
    """How containers are laid out in a storage partition."""

    name: str

    def pack(
        self,
        images: dict[str, bytes],
        geometry: Geometry,
        *,
        previous: bytes | None,
        replace: bool,
        entries: Sequence[autostart.AutostartEntry],
        progress: Progress | None,
    ) -> tuple[bytes, int]:
        """Return (image bytes, bytes used)."""
        ...

    def list(self, data: bytes, geometry: Geometry, *, source: str) -> list[dict[str, Any]]: ...


class LittleFSFormat:
    """Ocre's standard layout: LittleFS with ``ocre/images``, ``ocre/containers``, ``ocre/autostart``."""

    name = "littlefs"

    def pack(
        self,
        images: dict[str, bytes],
        geometry: Geometry,
        *,
        previous: bytes | None,
        replace: bool,
        entries: Sequence[autostart.AutostartEntry],
        progress: Progress | None,
    ) -> tuple[bytes, int]:
        from ocre_py.zephyr.partition import build_image

        part = build_image(
            images, geometry, previous=previous, replace=replace, autostart_entries=entries, progress=progress
        )
        return part.to_bytes(), part.used_bytes

    def list(self, data: bytes, geometry: Geometry, *, source: str) -> list[dict[str, Any]]:
        from ocre_py.zephyr.partition import Partition

        return [e.to_dict() for e in Partition.from_bytes(data, geometry, source=source).images()]


def _bundle_format() -> StorageFormat:
    from ocre_py.zephyr.bundle import BundleFormat

    return BundleFormat()  # type: ignore[return-value]


#: Storage formats by name; ``bundle`` is the tiny profile's flat flash bundle (docs/tiny.md).
FORMATS: dict[str, StorageFormat] = {"littlefs": LittleFSFormat(), "bundle": _bundle_format()}


def get_format(name: str) -> StorageFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInput.field(None, "storage format", name, " or ".join(sorted(FORMATS))) from None


# --------------------------------------------------------------------------------------------------
# Shared steps
# --------------------------------------------------------------------------------------------------
def resolve_sources(sources: Sequence[str], *, require_signature: bool = False) -> list[SourceImage]:
    """``.wasm`` files as they are; anything else is an image reference in the local image store.

    With ``require_signature`` (or the workdir's trust policy) only signed store images pass.
    """
    from ocre_py.image.trust import effective_policy, refuse_unsigned_file

    if not sources:
        raise InvalidInput.field(None, "IMAGE", "", "at least one image or .wasm file")
    out: list[SourceImage] = []
    for src in sources:
        path = Path(src)
        if path.is_file():
            refuse_unsigned_file(src, effective_policy(require_signature))
            out.append(SourceImage(path.name.lower(), path))
            continue
        if src.endswith((".wasm", ".aot")):
            raise InvalidInput.field(None, "IMAGE", src, "an existing .wasm file or an image reference")
        from ocre_py.image.runnable import resolve_runnable

        image = resolve_runnable(src, require_signature=require_signature)
        out.append(SourceImage(image.name, Path(image.wasm_path)))
    names = [s.image_name for s in out]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise InvalidInput.field(None, "IMAGE", ", ".join(sorted(dupes)), "each image name once")
    return out


def wamr_build(req: DeployRequest) -> WamrBuild:
    """The WAMR build the containers are going to: the Ocre core's for LittleFS storage; for the
    tiny bundle, what the build directory's CMake cache recorded (a tiny build that recorded
    nothing predates the record and the overlong-index option), else the tiny profile's defaults."""
    if req.format != "bundle":
        return wamr.OCRE_CORE
    if req.build_dir is None:
        return wamr.TINY
    cache = bdir.read_cmake_cache(bdir.app_dir(req.build_dir))
    if wamr.CACHE_KEY in cache:
        return wamr.from_cache_value(cache[wamr.CACHE_KEY], origin=f"the firmware in {req.build_dir}")
    return wamr.TINY_UNRECORDED if cache else wamr.TINY


def read_images(req: DeployRequest, sources: Sequence[SourceImage]) -> dict[str, bytes]:
    """Each source's bytes, checked before anything is packed: a wasm module (or, for LittleFS, a
    WAMR AOT file) whose instructions the target's WAMR build loads. Raises :class:`DeployError`."""
    build = wamr_build(req)
    images = {}
    for s in sources:
        data = s.path.read_bytes()
        try:
            if not (req.format == "littlefs" and is_aot(data)):
                parse_module(data, source=str(s.path))
                build.require_loadable(scan_code(data, source=str(s.path)), source=str(s.path))
        except ImageError as exc:
            raise DeployError(exc.message, hint=exc.hint) from None
        images[s.image_name] = data
    return images


def container_name(req: DeployRequest, image_name: str) -> str:
    """``-n NAME`` (one image only), else the image name without its extension, made id-safe."""
    if req.name:
        return req.name
    stem = image_name.rsplit(".", 1)[0]
    return re.sub(r"[^a-z0-9_.-]", "-", stem.lower()).lstrip(".-_")[:31] or "container"


def parse_env(values: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for v in values:
        if not _ENV.match(v):
            raise InvalidInput.field(None, "-e", v, "KEY=VALUE")
        key, _, value = v.partition("=")
        out.append((key, value))
    return out


def autostart_entries(req: DeployRequest, images: Sequence[SourceImage]) -> list[autostart.AutostartEntry]:
    if not req.autostart:
        if req.env or req.capabilities:
            log.warning("-e/-k only take effect on a device with --autostart")
        return []
    env = tuple(parse_env(req.env))
    return [
        autostart.AutostartEntry(
            name=container_name(req, s.image_name),
            image=s.image_name,
            args=tuple(req.args),
            env=env,
            capabilities=tuple(req.capabilities),
        )
        for s in images
    ]


def _board(name: str) -> Any:
    from ocre_py.zephyr.board.database import get_board

    return get_board(name)


def resolve_geometry(req: DeployRequest) -> Geometry:
    """From the build's ``zephyr.dts`` when there is a build, else from the board database."""
    from ocre_py.zephyr.board import geometry as geo

    if req.format == "bundle":  # the tiny profile's bundle partition, not storage_partition
        from ocre_py.zephyr.tiny import bundle_geometry

        return bundle_geometry(board=_board(req.board) if req.board else None, build_dir=req.build_dir)
    if req.build_dir is not None:
        if bdir.zephyr_dts(req.build_dir).is_file():
            return bdir.storage_geometry(req.build_dir)
        if not req.board:
            raise InvalidInput.field(
                None, "build directory", str(req.build_dir), "a Zephyr build (zephyr/zephyr.dts missing)"
            )
    board = req.board or (bdir.board(req.build_dir) if req.build_dir else None)
    if not board:
        raise InvalidInput.field(
            None,
            "target",
            "",
            "-b BOARD or -d BUILD_DIR",
            hint="the device, --qemu, --native-sim and -o need one",
        )
    return geo.from_board(_board(board), medium=req.medium)


def state_dir(req: DeployRequest) -> Path:
    """Where outputs and the last deployed image live: ``<build>/ocre`` or an ``ocre-deploy`` dir."""
    if req.build_dir is not None:
        return bdir.app_dir(req.build_dir) / "ocre"
    board = (req.board or "board").replace("/", "_")
    return Path.cwd() / f"ocre-deploy-{board}"


def _output_paths(req: DeployRequest) -> tuple[Path, Path, Path]:
    """(storage.bin, storage.hex, merged.hex) for ``-o FILE.bin``, ``-o DIR`` or the state dir."""
    out = req.output
    if out is not None and out.suffix in (".bin", ".img"):
        return out, out.with_suffix(".hex"), out.with_name("merged.hex")
    d = out if out is not None else state_dir(req)
    return d / "storage.bin", d / "storage.hex", d / "merged.hex"


def pack_partition(
    req: DeployRequest,
    *,
    previous_path: Path | None,
    previous_data: bytes | None = None,
    progress: Progress | None = None,
) -> tuple[bytes, Geometry, DeployResult]:
    """Resolve images and geometry, pack them on top of the previous image and write the output files.

    The previous image is ``previous_data`` (read back from a device) when given, else the file at
    ``previous_path``; ``--replace`` ignores both.
    """
    from ocre_py.zephyr import hexfile

    if req.name and len(req.sources) > 1:
        raise InvalidInput.field(None, "-n", req.name, "one IMAGE (a name names one container)")
    sources = resolve_sources(req.sources, require_signature=req.require_signature)
    geometry = resolve_geometry(req)
    fmt = get_format(req.format)
    images = read_images(req, sources)  # checked before anything (even the lock file) is written
    bin_path, hex_path, merged_path = _output_paths(req)
    # Read the previous image and write the new one under one lock: two deploys to the same output
    # serialise instead of each packing on the same base and one update being lost.
    lock = (
        contextlib.nullcontext() if req.dry_run else file_lock(bin_path.with_name(f".{bin_path.name}.lock"))
    )
    with lock:
        previous = previous_data
        if previous is None and previous_path is not None and previous_path.is_file():
            previous = previous_path.read_bytes()
        if req.replace:
            previous = None
        if previous is not None and len(previous) != geometry.size:
            raise DeployError(
                f"{previous_path}: {len(previous)} bytes, but the partition is now {geometry.size} bytes",
                hint="the partition changed size: deploy with --replace to start a fresh image",
            )
        data, used = fmt.pack(
            images,
            geometry,
            previous=previous,
            replace=req.replace,
            entries=autostart_entries(req, sources),
            progress=progress,
        )
        result = DeployResult(target="files", geometry=geometry.to_dict(), used_bytes=used)
        result.images = fmt.list(data, geometry, source=str(bin_path))
        if not req.dry_run:
            files: dict[Path, bytes | str] = {bin_path: data}
            if geometry.load_address is not None:
                files[hex_path] = hexfile.bin_to_hex(data, geometry.address, erase_block=geometry.erase_block)
            app_hex = bdir.zephyr_hex(req.build_dir) if req.build_dir is not None else None
            if app_hex is not None:
                files[merged_path] = hexfile.merged_hex(
                    app_hex, data, geometry.address, erase_block=geometry.erase_block
                )
            atomic_write_many(files, what="the partition image")  # bin and hex always hold the same
            names = {bin_path: "storage.bin", hex_path: "storage.hex", merged_path: "merged.hex"}
            result.files.update({names[p]: str(p) for p in files})
    return data, geometry, result


# --------------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------------
class DeployTarget:
    """Base: :meth:`deploy` checks the request, then calls :meth:`do_deploy`."""

    name: ClassVar[str] = ""
    #: Options this target accepts beyond the common ones (others are refused, not ignored).
    accepts: ClassVar[frozenset[str]] = frozenset()

    def deploy(self, req: DeployRequest, *, progress: Progress | None = None, **kw: Any) -> DeployResult:
        for opt in ("merged", "runner", "full", "probe"):
            if getattr(req, opt) and opt not in self.accepts:
                raise InvalidInput.field(
                    None, f"--{opt}", getattr(req, opt), f"not used by the {self.name} target"
                )
        return self.do_deploy(req, progress=progress, **kw)

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None, **kw: Any) -> DeployResult:
        raise NotImplementedError


class FilesTarget(DeployTarget):
    """``-o FILE|DIR``: only write the partition image files (previous file at FILE is kept and extended)."""

    name = "files"

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None, **kw: Any) -> DeployResult:
        bin_path, _, _ = _output_paths(req)
        _, _, result = pack_partition(req, previous_path=bin_path, progress=progress)
        return result


class DeviceTarget(DeployTarget):
    """``-b BOARD``/``-d BUILD``: pack, then flash only the changed erase blocks (or ``--merged``).

    Capabilities are checked before anything is packed. With a probe, the partition is read back
    first and the new image is packed on top of what the device really holds (an erased partition
    starts fresh; anything else that is not LittleFS with this geometry needs ``--replace``).
    """

    name = "device"
    accepts = frozenset({"merged", "runner", "full", "probe"})

    def do_deploy(
        self, req: DeployRequest, *, progress: Progress | None, device: Any = None, **kw: Any
    ) -> DeployResult:
        from ocre_py.zephyr import flasher

        last = state_dir(req) / "deployed.bin"
        geometry = resolve_geometry(req)
        board = _board(req.board) if req.board else None
        app_dir = None
        if req.build_dir is not None:
            app_dir = bdir.app_dir(req.build_dir)
            if board is None:
                name = bdir.board(req.build_dir)
                board = _board(name.split("@")[0]) if name else None
        runner = flasher.read_runner(app_dir, req.runner) if app_dir else None
        _, storage_hex, merged_hex = _output_paths(req)

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
            result.command.append(str(_output_paths(req)[0]))
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
        req: DeployRequest, geometry: Geometry, runner: Any, storage_hex: Path, merged_hex: Path
    ) -> list[str]:
        """``west flash`` for ``--merged`` or ``--runner R``; refuses a chip-erasing data-only write."""
        from ocre_py.zephyr import flasher

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
    """``--qemu``: write the image files; ``run --storage`` (or ``run -d``) boots them."""

    name = "qemu"

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None, **kw: Any) -> DeployResult:
        bin_path, _, _ = _output_paths(req)
        _, geometry, result = pack_partition(req, previous_path=bin_path, progress=progress)
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

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None, **kw: Any) -> DeployResult:
        from ocre_py.zephyr import native_sim

        bin_path, _, _ = _output_paths(req)
        flash_bin = bin_path.parent / "flash.bin"
        data, geometry, result = pack_partition(req, previous_path=bin_path, progress=progress)
        result.target = "native_sim"
        if not req.dry_run:
            native_sim.write_flash_bin(flash_bin, data, geometry)
            result.files["flash.bin"] = str(flash_bin)
        return result


class LinuxTarget(DeployTarget):
    """No board: import into the local runtime's ``images/`` and run attached (or via the daemon)."""

    name = "linux"

    def do_deploy(self, req: DeployRequest, *, progress: Progress | None, **kw: Any) -> DeployResult:
        from ocre_py.runtime import ContainerSpec, Runtime

        if req.name and len(req.sources) > 1:
            raise InvalidInput.field(None, "-n", req.name, "one IMAGE (a name names one container)")
        sources = resolve_sources(req.sources, require_signature=req.require_signature)
        result = DeployResult(target="linux")
        with Runtime(exclusive=False) as runtime:
            for s in sources:
                dest = runtime.images_dir / s.image_name
                if not dest.is_file() or dest.read_bytes() != s.path.read_bytes() or req.replace:
                    atomic_write(dest, s.path.read_bytes())
                result.images.append({"name": s.image_name, "size": dest.stat().st_size})
                result.files[s.image_name] = str(dest)
            if req.dry_run:
                return result
            for s in sources:
                spec = ContainerSpec(
                    image=s.image_name,
                    name=req.name,
                    args=tuple(req.args),
                    env=tuple(req.env),
                    capabilities=tuple(req.capabilities),
                ).validated()
                container = runtime.run(spec)
                result.container_id = container.id
                result.exit_code = (container.exit_code or 0) & 0xFF
                if result.exit_code:
                    break
        return result


def _run_checked(cmd: list[str]) -> None:
    import shlex
    import subprocess

    if shutil.which(cmd[0]) is None:
        from ocre_py.errors import MissingProgram

        raise MissingProgram(cmd[0])
    log.info("running %s", shlex.join(cmd))
    subprocess.run(cmd, check=True)


#: Deploy targets by name (the ``--json`` ``target`` field).
TARGETS: dict[str, type[DeployTarget]] = {
    t.name: t for t in (LinuxTarget, DeviceTarget, QemuTarget, NativeSimTarget, FilesTarget)
}


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
        name = req.board or (bdir.board(req.build_dir) if req.build_dir else None)
        kind = _board_kind(name) if name else None
        return {"qemu": "qemu", "native": "native_sim"}.get(kind or "", "device")
    return "linux"


def _board_kind(target: str) -> str | None:
    """``qemu``, ``native`` or ``mcu`` for a board target in the database, None for one it lacks."""
    from ocre_py.errors import NotFound
    from ocre_py.zephyr.build import lookup_board

    try:
        return lookup_board(target.split("@")[0]).type
    except NotFound:
        return None


def deploy(req: DeployRequest, *, progress: Progress | None = None, **kw: Any) -> DeployResult:
    """Deploy ``req`` to the target it names (see :func:`choose_target`)."""
    return TARGETS[choose_target(req)]().deploy(req, progress=progress, **kw)


def list_partition(path: Path, *, geometry: Geometry, fmt: str = "littlefs") -> list[dict[str, Any]]:
    """Containers in a partition image file (``storage.bin``, or a native_sim ``flash.bin``)."""
    if not path.is_file():
        raise InvalidInput.field(None, "partition image", str(path), "an existing file")
    data = path.read_bytes()
    if len(data) > geometry.size:  # a whole-flash file (flash.bin): cut the partition out of it
        from ocre_py.zephyr.native_sim import read_flash_bin

        data = read_flash_bin(path, geometry)
    return get_format(fmt).list(data, geometry, source=str(path))


def list_device(req: DeployRequest, *, device: Any = None, fmt: str = "littlefs") -> list[dict[str, Any]]:
    """Read the storage partition back from a board through pyocd and list it."""
    from ocre_py.zephyr import flasher

    geometry = resolve_geometry(req)
    board = _board(req.board) if req.board else None
    target = board.pyocd_target if board else None
    if device is None:
        if not target:
            raise BoardError("listing a device needs a pyocd target for the board")
        device = flasher.open_pyocd(target, unique_id=req.probe, pack=board.pyocd_pack if board else None)
    try:
        data = device.read(geometry.address, geometry.size)
    finally:
        device.close()
    return get_format(fmt).list(data, geometry, source=f"device @ {geometry.address:#x}")
