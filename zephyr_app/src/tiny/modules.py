"""List this workspace's Zephyr modules without the Ocre core, for tiny.cmake.

The ocre module's CMake builds the Ocre core and its WAMR (vmlib, which needs littlefs' lfs.h)
whenever the module is present, whatever Kconfig says, and its Kconfig loads with it. The tiny
profile is WAMR alone, so tiny.cmake passes Zephyr the module list without it (ZEPHYR_MODULES) and
takes WAMR from the module's submodule directory. The list comes from Zephyr's own module scanner
(scripts/zephyr_module.py, which twister imports the same way), so it matches what a normal build
would load, in a west workspace or with ZEPHYR_EXTRA_MODULES.

Usage: python modules.py ZEPHYR_BASE  → line 1: the other modules (';'-separated, ZEPHYR_BASE first
so the list is never empty), line 2: the ocre module's directory (empty if there is none).

SPDX-License-Identifier: Apache-2.0
"""

import sys
from pathlib import Path


def main() -> int:
    zephyr_base = str(Path(sys.argv[1]).resolve())
    sys.path.insert(0, str(Path(zephyr_base) / "scripts"))
    from zephyr_module import parse_modules  # type: ignore[import-not-found]

    keep, ocre = [zephyr_base], ""
    for module in parse_modules(zephyr_base):
        if module.meta.get("name") == "ocre":
            ocre = module.project
        else:
            keep.append(module.project)
    print(";".join(Path(p).as_posix() for p in keep))
    print(Path(ocre).as_posix() if ocre else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
