"""A project's ``ocre.yml``: Ocre features, WAMR memory, storage, containers to preload.

Validated in two passes: pykwalify for shape (field names, types, enums) and this module for
meaning (sizes parse, names are valid, storage fits the chosen medium). Every error names the file,
the field and what was expected, in one line. A missing ``ocre.yml`` means all defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ocre_py.errors import InvalidInput
from ocre_py.names import FIRMWARE_NAME_MAX, is_short_name
from ocre_py.units import parse_size
from ocre_py.yaml_schema import load_yaml, validate

SCHEMA_FILE = Path(__file__).with_name("ocre.schema.yaml")
CONFIG_NAME = "ocre.yml"

#: Feature name in ocre.yml → Kconfig symbols it sets (the only place this mapping lives).
FEATURES: dict[str, tuple[str, ...]] = {
    "timers": ("OCRE_TIMER",),
    "messaging": ("OCRE_CONTAINER_MESSAGING",),
    "gpio": ("GPIO", "OCRE_GPIO"),
    "sensors": ("SENSOR", "OCRE_SENSORS"),
    "shell": ("OCRE_SHELL",),
    "networking": ("OCRE_NETWORKING",),
    "filesystem": ("OCRE_FILESYSTEM",),
    "aot": ("OCRE_WAMR_AOT",),
}


@dataclass(frozen=True)
class ContainerSpec:
    """One container to put into the storage partition (and maybe start at boot)."""

    image: str
    name: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    autostart: bool = True

    @property
    def image_file(self) -> str:
        """File name of the image under ``/lfs/ocre/images`` on the device."""
        return Path(self.image).name


@dataclass(frozen=True)
class OcreConfig:
    """Everything ``ocre.yml`` can say, with defaults that build on every supported board."""

    features: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(FEATURES, False))
    heap_size: int = 256 * 1024  # libc malloc arena: WAMR linear memories + runtime
    stack_size: int = 8 * 1024  # dynamic thread stack per container, and main stack
    memory_placement: str = "internal"
    storage_size: int | None = None  # None: the board's default for the medium
    storage_medium: str | None = None  # None: the board's default medium
    containers: tuple[ContainerSpec, ...] = ()
    board: str | None = None
    profile: str = "full"  # "tiny": WAMR only + a flash bundle for 64 KB-RAM boards (docs/tiny.md)
    source: str = "defaults"

    def with_overrides(self, **changes: Any) -> OcreConfig:
        return replace(self, **changes)

    def enabled_features(self) -> list[str]:
        return [f for f in FEATURES if self.features.get(f)]


def load_config(path: Path | None) -> OcreConfig:
    """Read ``path`` (an ``ocre.yml``); ``None`` or a missing default file gives the defaults."""
    if path is None:
        return OcreConfig()
    data = load_yaml(path, what="project config")
    if data is None:
        data = {}
    source = str(path)
    if not isinstance(data, dict):
        raise InvalidInput.field(source, "document", type(data).__name__, "a mapping of settings")
    validate(data, SCHEMA_FILE, source=source)
    return config_from_dict(data, source=source)


def config_from_dict(data: dict[str, Any], *, source: str = "ocre.yml") -> OcreConfig:
    features = dict.fromkeys(FEATURES, False)
    features.update({k: bool(v) for k, v in (data.get("features") or {}).items()})
    if features["timers"]:
        features["messaging"] = True  # OCRE_TIMER selects OCRE_CONTAINER_MESSAGING in Ocre's Kconfig
    wamr = data.get("wamr") or {}
    storage = data.get("storage") or {}
    containers = []
    seen: set[str] = set()
    for i, c in enumerate(data.get("containers") or []):
        where = f"containers[{i}]"
        if not is_short_name(c["name"], FIRMWARE_NAME_MAX):
            raise InvalidInput.field(
                source, f"{where}.name", c["name"], "[a-z0-9][a-z0-9_.-]*, at most 31 chars"
            )
        if c["name"] in seen:
            raise InvalidInput.field(
                source, f"{where}.name", c["name"], "a name not used by another container"
            )
        seen.add(c["name"])
        if not c["image"].endswith((".wasm", ".aot")):
            raise InvalidInput.field(source, f"{where}.image", c["image"], "a .wasm or .aot file")
        caps = tuple(c.get("capabilities") or ())
        containers.append(
            ContainerSpec(
                image=c["image"],
                name=c["name"],
                args=tuple(c.get("args") or ()),
                env={str(k): str(v) for k, v in (c.get("env") or {}).items()},
                capabilities=caps,
                autostart=c.get("autostart", True),
            )
        )
    cfg = OcreConfig(
        features=features,
        heap_size=_size(wamr, "heap_size", OcreConfig.heap_size, source, "wamr.heap_size"),
        stack_size=_size(wamr, "stack_size", OcreConfig.stack_size, source, "wamr.stack_size"),
        memory_placement=(data.get("memory") or {}).get("placement", "internal"),
        storage_size=_size(storage, "size", None, source, "storage.size"),
        storage_medium=storage.get("medium"),
        containers=tuple(containers),
        board=data.get("board"),
        profile=data.get("profile") or "full",
        source=source,
    )
    for i, c in enumerate(cfg.containers):
        if "filesystem" in c.capabilities and not cfg.features["filesystem"]:
            raise InvalidInput.field(
                source, f"containers[{i}].capabilities", "filesystem", "features.filesystem: true to grant it"
            )
        if "networking" in c.capabilities and not cfg.features["networking"]:
            raise InvalidInput.field(
                source, f"containers[{i}].capabilities", "networking", "features.networking: true to grant it"
            )
    return cfg


def _size(section: dict[str, Any], key: str, default: Any, source: str, name: str) -> Any:
    if key not in section or section[key] is None:
        return default
    try:
        return parse_size(section[key], what=name)
    except InvalidInput:
        raise InvalidInput.field(
            source, name, section[key], "a byte count such as 65536, 64K or 4MiB"
        ) from None


def find_config(app_dir: Path) -> Path | None:
    """``<app>/ocre.yml`` when it exists (the project config lives beside the app)."""
    p = app_dir / CONFIG_NAME
    return p if p.is_file() else None
