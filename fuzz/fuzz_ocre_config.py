"""Fuzz ``ocre.yml``, the project config ``west ocre build``/``deploy`` read."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from fuzz._seeds import repo_files
from ocre_py.zephyr.project.config import load_config

PARSER = "ocre_py.zephyr.project.config.load_config"

_TMP = Path(tempfile.mkdtemp(prefix="ocre-fuzz-config-"))
atexit.register(shutil.rmtree, _TMP, True)

SEED = b"""board: nucleo_u575zi_q
features: {timers: true, filesystem: true}
wamr: {heap_size: 128K, stack_size: 8K}
storage: {size: 64K, medium: internal}
containers:
  - {name: hello, image: build/hello.wasm, args: [a], env: {K: V}, capabilities: [filesystem]}
  - {name: blink, image: blink.wasm, autostart: false}
"""


def seeds() -> list[bytes]:
    return [SEED, *repo_files("tests/zephyr/data/invalid/*.yml")[:8], *repo_files("templates/**/ocre.yml")]


def check(data: bytes) -> None:
    path = _TMP / "ocre.yml"
    path.write_bytes(data)
    cfg = load_config(path)
    for c in cfg.containers:
        assert "/" not in c.image_file and c.image_file not in ("", ".", "..")
        assert not any(ch.isspace() for ch in c.name), c.name  # it becomes an autostart field


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_ocre_config"))
