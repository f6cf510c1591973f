"""Fuzz the image manifest and config parsers with JSON from a registry or an archive."""

from __future__ import annotations

from fuzz._seeds import image_blobs
from ocre_py.image import mediatypes as mt
from ocre_py.image.manifest import parse_config, parse_manifest

PARSER = "ocre_py.image.manifest.parse_manifest / parse_config"


def seeds() -> list[bytes]:
    manifest, config, _ = image_blobs()
    return [b"\0" + manifest, b"\1" + manifest, b"\2" + config, b"\3" + config, b'\2{"args":[1]}']


def check(data: bytes) -> None:
    # The first byte picks the reader so one corpus serves all three.
    kind, body = (data[0] % 4, data[1:]) if data else (0, data)
    if kind == 0:
        m = parse_manifest(body, source="fuzz")
        assert len(m.layers) == 1
    elif kind == 1:
        parse_manifest(body, source="fuzz", image=False)
    elif kind == 2:
        cfg = parse_config(body, mt.OCRE_CONFIG, source="fuzz")
        assert isinstance(cfg["args"], list)
    else:
        parse_config(body, "application/vnd.wasm.config.v0+json", source="fuzz")


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_manifest"))
