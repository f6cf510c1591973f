"""The ``bundle`` storage format (``--profile tiny``), registered in :mod:`ocre_py.zephyr.storage.formats`.

Every container is started at boot in bundle order (the tiny firmware has no autostart file), so the
autostart entries the deploy request built give names, argv, environ and the ``ocre:api``
capability; images without an entry get their file stem as name. A bundle is always packed whole
(not ``incremental``) and padded with 0xFF to the partition size, so the device flasher still
rewrites only the erase blocks that changed. Modules the tiny firmware cannot run are refused before
any write, and :meth:`BundleFormat.budget` checks the board's flash and RAM budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ocre_py.errors import DeployError, OcreError
from ocre_py.image import wamr
from ocre_py.image.tiny_module import analyse_module
from ocre_py.image.wamr import WamrBuild
from ocre_py.progress import Progress
from ocre_py.zephyr.board.database import Board
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.project import build_dir as bdir
from ocre_py.zephyr.storage.autostart import AutostartEntry
from ocre_py.zephyr.storage.bundle import FLAG_OCRE_API, BundleWriter, read_bundle
from ocre_py.zephyr.storage.formats import Packed, register
from ocre_py.zephyr.tiny.budget import deploy_budget, render_table
from ocre_py.zephyr.tiny.plan import bundle_geometry
from ocre_py.zephyr.tiny.profile import unserved_imports


class BundleFormat:
    name: ClassVar[str] = "bundle"
    incremental: ClassVar[bool] = False
    accepts_aot: ClassVar[bool] = False  # the tiny firmware is the classic interpreter only

    def wamr(self, build_dir: Path | None) -> WamrBuild:
        """What the firmware in ``build_dir`` recorded (``OCRE_WAMR_OPTIONS``); a tiny build that
        recorded nothing predates the record and the overlong-index option; no build: today's."""
        if build_dir is None:
            return wamr.TINY
        cache = bdir.read_cmake_cache(bdir.app_dir(build_dir))
        if wamr.CACHE_KEY in cache:
            return wamr.from_cache_value(cache[wamr.CACHE_KEY], origin=f"the firmware in {build_dir}")
        return wamr.TINY_UNRECORDED if cache else wamr.TINY

    def geometry(self, *, board: Board | None, build_dir: Path | None, medium: str | None) -> Geometry:
        return bundle_geometry(board=board, build_dir=build_dir)

    def pack(
        self,
        images: Mapping[str, bytes],
        geometry: Geometry,
        *,
        entries: Sequence[AutostartEntry],
        previous: bytes | None,
        progress: Progress | None,
    ) -> Packed:
        if previous is not None:
            raise ValueError("a bundle is always packed whole: pass previous=None")
        by_image = {e.image: e for e in entries}
        writer = BundleWriter()
        for i, (image_name, module) in enumerate(images.items()):
            analysed = analyse_module(module, source=image_name)
            try:
                analysed.require_shrinkable()
            except OcreError as exc:
                raise DeployError(exc.message, hint=exc.hint) from None
            unserved = unserved_imports(analysed)
            if unserved:
                raise DeployError(
                    f"{image_name}: imports what the tiny profile does not serve: " + ", ".join(unserved),
                    hint="the tiny firmware serves ocre_sleep, timers, ocre_get_event and stdout only",
                )
            entry = by_image.get(image_name)
            if entry is not None:
                env = [f"{k}={v}" for k, v in entry.env]
                flags = FLAG_OCRE_API if "ocre:api" in entry.capabilities else 0
                writer.add(entry.name, module, args=entry.args, env=env, flags=flags, source=image_name)
            else:
                writer.add(Path(image_name).stem.lower(), module, source=image_name)
            if progress:
                progress(i + 1, len(images))
        data = writer.build(max_size=geometry.size)
        # The partition image is the bundle followed by erased flash (0xFF), so incremental flashing,
        # storage.hex and the "previous image" checks see a whole partition, as with LittleFS.
        return Packed(data + b"\xff" * (geometry.size - len(data)), len(data))

    def budget(self, data: bytes, board: Board | None) -> dict[str, Any] | None:
        """The board's tiny budget for this bundle; refuses (with the numbers) when it does not fit."""
        if board is None:
            raise DeployError("the tiny profile needs -b BOARD or -d BUILD_DIR to check the budget")
        plan = deploy_budget(board, data).require_fits()
        return {**plan.as_dict(), "table": render_table(plan)}

    def list(self, data: bytes, geometry: Geometry, *, source: str) -> list[dict[str, Any]]:
        bundle = read_bundle(data, source=source, partition_size=geometry.size)
        return [
            {
                "name": e.name,
                "size": e.size,
                "sha256": e.sha256,
                "autostart": True,
                "args": list(e.args),
                "env": list(e.env),
                "offset": off,
                "ocre_api": bool(e.flags & FLAG_OCRE_API),
            }
            for e, off in zip(bundle.entries, bundle.offsets, strict=True)
        ]


register(BundleFormat())
