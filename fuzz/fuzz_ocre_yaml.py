"""Fuzz ``ocre.yaml`` (the image description ``ocre image build`` reads)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from ocre_py.image.ocre_yaml import load_spec

PARSER = "ocre_py.image.ocre_yaml.load_spec"

_TMP = Path(tempfile.mkdtemp(prefix="ocre-fuzz-yaml-"))
atexit.register(shutil.rmtree, _TMP, True)


def seeds() -> list[bytes]:
    return [
        b"name: hello\nversion: '1.0'\nwasm: hello.wasm\nargs: [a, b]\nenv: {K: V}\n"
        b"capabilities: [filesystem]\nmemory: 64K\nlabels: {a: b}\n",
        b"name: app\nsources: [main.c, util.c]\n",
        b"name: x\n",
    ]


def check(data: bytes) -> None:
    path = _TMP / "ocre.yaml"
    path.write_bytes(data)
    spec = load_spec(path)
    assert spec.name and (spec.wasm is None) != (not spec.sources)


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_ocre_yaml"))
