"""The project wing: an app's ``ocre.yml``, the west workspace around it, and its build directory.

Above the board wing, below everything that builds, deploys or emulates. ``build_dir`` is the one
reader of what ``west build`` leaves behind (CMake cache, sysbuild domains, ``zephyr.dts``,
``zephyr.hex``, ``zephyr.elf``), in the manner of Zephyr's ``zcmake.py`` and ``build_helpers.py``.
"""
