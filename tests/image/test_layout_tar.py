"""``save`` / ``load``: round trips, and every kind of bad archive refused with the store unchanged."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocre_py.image import ImageOptions, ImageStore, build_from_file, load, save
from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import digest_of
from ocre_py.image.manifest import canonical
from tests.image.conftest import snapshot

Saved = tuple[Path, dict[str, bytes], str]


def read_tar(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def write_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def blob_name(digest: str) -> str:
    return f"blobs/sha256/{digest.split(':')[1]}"


@pytest.fixture
def saved(tmp_path: Path, hello: Path) -> Saved:
    """A good archive of hello:1 made in a scratch store: (path, members, manifest digest)."""
    scratch = ImageStore(tmp_path / "scratch")
    built = build_from_file(scratch, "hello:1", hello, ImageOptions(args=("world",)))
    path = tmp_path / "hello.tar"
    save(scratch, ["hello:1"], path)
    return path, read_tar(path), built.digest


def replace_image(
    files: dict[str, bytes],
    digest: str,
    *,
    manifest: dict | None = None,
    blobs: dict[str, bytes] | None = None,
) -> dict[str, bytes]:
    """Swap in a new manifest (and blobs) for ``digest``, keeping the archive internally consistent."""
    files = dict(files)
    for name, data in (blobs or {}).items():
        files[name] = data
    if manifest is not None:
        data = canonical(manifest)
        del files[blob_name(digest)]
        files[blob_name(digest_of(data))] = data
        index = json.loads(files["index.json"])
        index["manifests"][0].update(digest=digest_of(data), size=len(data))
        files["index.json"] = json.dumps(index).encode()
    return files


def test_save_load_round_trip_keeps_digest_tags_and_bytes(
    saved: Saved, store_root: Path, hello: Path
) -> None:
    path, files, digest = saved
    assert set(files) >= {"oci-layout", "index.json", blob_name(digest)}
    store = ImageStore(store_root)
    assert load(store, path) == ["hello:1"]
    image = store.image("hello:1")
    assert image.digest == digest
    assert image.layer_path.read_bytes() == hello.read_bytes()
    assert image.config["args"] == ["world"]
    # loading twice changes nothing
    before = snapshot(store_root)
    load(store, path)
    assert snapshot(store_root) == before


def _manifest(files: dict[str, bytes], digest: str) -> dict:
    return json.loads(files[blob_name(digest)])


def _bad_cases(files: dict[str, bytes], digest: str) -> dict[str, tuple[dict[str, bytes] | bytes, str]]:
    m = _manifest(files, digest)
    layer = m["layers"][0]["digest"]
    config = m["config"]["digest"]
    text = b"#!/bin/sh\necho not wasm\n"
    non_wasm = dict(
        m, layers=[{"mediaType": mt.OCRE_LAYER_WASM, "digest": digest_of(text), "size": len(text)}]
    )
    zip_layer = dict(m, layers=[dict(m["layers"][0], mediaType="application/zip")])
    bad_config = canonical({"args": "world"})
    cfg_manifest = dict(
        m, config={"mediaType": mt.OCRE_CONFIG, "digest": digest_of(bad_config), "size": len(bad_config)}
    )
    tampered = bytearray(files[blob_name(layer)])
    tampered[100] ^= 0xFF
    return {
        "corrupt": (b"this is not a tar archive at all" * 40, "not a readable tar archive"),
        "truncated": (b"", "not a readable tar archive"),
        "digest-mismatch": ({**files, blob_name(layer): bytes(tampered)}, "digest mismatch"),
        "missing-blob": (
            {k: v for k, v in files.items() if k != blob_name(config)},
            f"missing blob {config}",
        ),
        "non-wasm-layer": (
            replace_image(files, digest, manifest=non_wasm, blobs={blob_name(digest_of(text)): text}),
            "no \\0asm magic",
        ),
        "layer-media-type": (
            replace_image(files, digest, manifest=zip_layer),
            "layers[0].mediaType 'application/zip': expected",
        ),
        "manifest-schema": (
            replace_image(files, digest, manifest=dict(m, schemaVersion=1)),
            "schemaVersion 1: expected 2",
        ),
        "config-schema": (
            replace_image(
                files, digest, manifest=cfg_manifest, blobs={blob_name(digest_of(bad_config)): bad_config}
            ),
            "args 'world': expected a list",
        ),
        "path-traversal": ({**files, "../../etc/evil": b"x"}, "unexpected member '../../etc/evil'"),
        "no-index": ({k: v for k, v in files.items() if k != "index.json"}, "missing index.json"),
    }


CASES = [
    "corrupt", "truncated", "digest-mismatch", "missing-blob", "non-wasm-layer", "layer-media-type",
    "manifest-schema", "config-schema", "path-traversal", "no-index",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_archive_is_refused_in_one_line_and_store_unchanged(
    case: str, saved: Saved, tmp_path: Path, cli: Callable[..., object], hello: Path, store_root: Path
) -> None:
    path, files, digest = saved
    content, fragment = _bad_cases(files, digest)[case]
    bad = tmp_path / f"{case}.tar"
    if isinstance(content, bytes):
        if case == "truncated":
            content = path.read_bytes()[: len(path.read_bytes()) // 2 + 100]
        bad.write_bytes(content)
    else:
        write_tar(bad, content)
    assert cli("image", "build", "-t", "seed:1", hello).code == 0
    before = snapshot(store_root)
    result = cli("image", "load", "-i", bad)
    assert result.code != 0
    first = result.err.splitlines()[0]
    assert first.startswith("ocre: error: "), result.err
    assert fragment in first, first
    assert str(bad) in first
    assert snapshot(store_root) == before


def test_load_refuses_a_module_the_target_cannot_serve(tmp_path: Path, store_root: Path) -> None:
    wasmtime = pytest.importorskip("wasmtime")
    scratch = ImageStore(tmp_path / "scratch")
    module = wasmtime.wat2wasm('(module (import "env" "ocre_gpio_init" (func (result i32))))')
    from ocre_py.image import Checks, build_image

    build_image(scratch, "gpio:1", module)
    save(scratch, ["gpio:1"], tmp_path / "gpio.tar")
    from ocre_py.errors import ImageError

    with pytest.raises(
        ImageError, match=r"imports not supported by target zephyr:timers: env\.ocre_gpio_init"
    ):
        load(ImageStore(store_root), tmp_path / "gpio.tar", checks=Checks(target="zephyr:timers"))
    assert snapshot(store_root) == {}
    assert load(ImageStore(store_root), tmp_path / "gpio.tar", checks=Checks(target="zephyr:gpio")) == [
        "gpio:1"
    ]


def test_cli_save_and_load(cli: Callable[..., object], hello: Path, tmp_path: Path) -> None:
    assert cli("image", "build", "-t", "hello:1", hello).code == 0
    out = tmp_path / "out.tar"
    saved = cli("image", "save", "-o", out, "hello:1")
    assert saved.code == 0 and saved.out.startswith("Saved: sha256:")
    assert cli("image", "rm", "hello:1").code == 0
    loaded = cli("image", "load", "-i", out)
    assert loaded.code == 0 and loaded.out == "Loaded: hello:1\n"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["schemaVersion", "mediaType", "config", "layers", "subject"]), json_values
    )
)
def test_any_json_manifest_is_accepted_or_refused_with_an_image_error(doc: dict) -> None:
    from ocre_py.errors import ImageError
    from ocre_py.image.manifest import parse_manifest

    try:
        parse_manifest(json.dumps(doc).encode(), source="fuzz")
    except ImageError as exc:
        assert str(exc).startswith("fuzz: ") and "\n" not in str(exc)
