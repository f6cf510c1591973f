"""The one reader of a Zephyr build directory: its CMake cache, sysbuild domain and output files.

Every question about "what did ``west build`` make here" goes through this module, so there is one
answer to each: which board (``CACHED_BOARD``, as west records it, else ``BOARD``), whether it is a
Zephyr build at all (the cache names ``ZEPHYR_TOOLCHAIN_VARIANT``, west's own test), which profile
(``OCRE_PROFILE``), and where the application's files are under sysbuild (the default domain of
``domains.yaml``). Modelled on Zephyr's ``zcmake.CMakeCache`` and ``build_helpers``, which are not a
stable API to import.
"""

from __future__ import annotations

import os
from pathlib import Path

from ocre_py.errors import NotFound
from ocre_py.zephyr.board import geometry
from ocre_py.zephyr.board.geometry import Geometry

CACHE = "CMakeCache.txt"


def read_cmake_cache(build_dir: str | os.PathLike[str]) -> dict[str, str]:
    """``NAME:TYPE=value`` lines of ``CMakeCache.txt`` as name → value (empty if there is none)."""
    out: dict[str, str] = {}
    try:
        text = (Path(build_dir) / CACHE).read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith(("#", "//")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.split(":", 1)[0]] = value
    return out


def app_dir(build_dir: str | os.PathLike[str]) -> Path:
    """The application's build dir: ``B`` itself, or the default domain of a sysbuild tree."""
    b = Path(build_dir)
    domains = b / "domains.yaml"
    if domains.is_file() and not (b / "zephyr" / "zephyr.dts").is_file():
        import yaml

        data = yaml.safe_load(domains.read_text()) or {}
        default = data.get("default")
        for d in data.get("domains", []):
            if d.get("name") == default:
                return Path(d.get("build_dir", b / default))
    return b


def is_configured(build_dir: str | os.PathLike[str]) -> bool:
    """CMake has run in ``build_dir`` (it has a ``CMakeCache.txt``): the test every command that
    needs a build makes before anything else, so "nothing built" is said before other errors."""
    return (Path(build_dir) / CACHE).is_file()


def board(build_dir: str | os.PathLike[str]) -> str | None:
    """The board target the build was configured for (``CACHED_BOARD``, else ``BOARD``)."""
    cache = read_cmake_cache(app_dir(build_dir))
    return cache.get("CACHED_BOARD") or cache.get("BOARD") or None


def profile(build_dir: str | os.PathLike[str]) -> str:
    """``tiny`` for a build configured with ``-DOCRE_PROFILE=tiny``, else ``full``."""
    return "tiny" if read_cmake_cache(app_dir(build_dir)).get("OCRE_PROFILE") == "tiny" else "full"


def zephyr_dts(build_dir: str | os.PathLike[str]) -> Path:
    return app_dir(build_dir) / "zephyr" / "zephyr.dts"


def zephyr_hex(build_dir: str | os.PathLike[str]) -> Path | None:
    """``zephyr.hex`` of the app, when the build made one (``CONFIG_BUILD_OUTPUT_HEX``)."""
    path = app_dir(build_dir) / "zephyr" / "zephyr.hex"
    return path if path.is_file() else None


def zephyr_elf(build_dir: str | os.PathLike[str]) -> Path:
    """``zephyr/zephyr.elf`` of the app; :class:`NotFound` when the build has none."""
    path = app_dir(build_dir) / "zephyr" / "zephyr.elf"
    if not path.is_file():
        raise NotFound(
            f"no zephyr.elf in {build_dir}", hint="build first ('west ocre build') or pass --elf FILE"
        )
    return path


def storage_geometry(build_dir: str | os.PathLike[str]) -> Geometry:
    """The storage partition of a build, from its merged ``zephyr.dts``."""
    return geometry.from_dts(zephyr_dts(build_dir))
