"""The image room must load where no wasm engine exists (the Zephyr side imports it)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import ocre_py.image


def test_image_package_never_imports_wasmtime() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(ocre_py.image.__path__, "ocre_py.image."))
    assert "ocre_py.image.registry" in modules and len(modules) >= 15
    code = (
        "import importlib, sys\n"
        "sys.modules['wasmtime'] = None  # any import of it now raises ImportError\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import ocre_py.cli.image\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
