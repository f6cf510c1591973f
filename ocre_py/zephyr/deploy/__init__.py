"""The deploy wing: put containers where an Ocre runtime will find them.

``request`` (what was asked, the images checked against the target's WAMR), ``pack`` (geometry,
the storage format's packing and budget, the output files), ``targets`` (board, QEMU, native_sim,
files; the Linux target registers itself from :mod:`ocre_py.daemon.linux_deploy`), ``flasher`` and
``delta`` (pyocd, only the erase blocks that changed), ``west_flash`` (``west ocre flash`` of the
firmware). The names below are the wing's public face; the skins use nothing else.
"""

from ocre_py.zephyr.deploy.pack import output_paths, pack_partition, resolve_geometry, state_dir
from ocre_py.zephyr.deploy.request import (
    DeployRequest,
    DeployResult,
    SourceImage,
    autostart_entries,
    read_images,
    resolve_sources,
)
from ocre_py.zephyr.deploy.targets import (
    TARGETS,
    DeployTarget,
    DeviceTarget,
    choose_target,
    deploy,
    list_device,
    list_file,
    list_partition,
    register_target,
)

__all__ = [
    "TARGETS",
    "DeployRequest",
    "DeployResult",
    "DeployTarget",
    "DeviceTarget",
    "SourceImage",
    "autostart_entries",
    "choose_target",
    "deploy",
    "list_device",
    "list_file",
    "list_partition",
    "output_paths",
    "pack_partition",
    "read_images",
    "register_target",
    "resolve_geometry",
    "resolve_sources",
    "state_dir",
]
