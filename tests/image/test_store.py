"""The local store: OCI image-layout on disk, tags, removal, prune, and the runtime entry points."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.errors import Conflict, ImageError, InvalidInput, NotFound
from ocre_py.image import (
    ImageOptions,
    ImageStore,
    build_from_file,
    build_from_spec,
    build_image,
    export_to_images_dir,
    resolve_runnable,
)
from ocre_py.image import mediatypes as mt
from ocre_py.image.digests import digest_of
from tests.image.conftest import snapshot

DATA = Path(__file__).parent / "data"
wasmtime = pytest.importorskip("wasmtime")


@pytest.fixture
def store(store_root: Path) -> ImageStore:
    return ImageStore(store_root)


def test_build_writes_an_oci_image_layout(store: ImageStore, hello: Path) -> None:
    built = build_from_file(store, "hello:1", hello, ImageOptions(args=("world",), env=("GREETING=Hi",)))
    root = store.root
    assert json.loads((root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((root / "index.json").read_text())
    assert index["schemaVersion"] == 2
    [entry] = index["manifests"]
    assert entry["digest"] == built.digest
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "hello:1"
    # every blob is named by its own sha256
    for blob in (root / "blobs" / "sha256").iterdir():
        assert digest_of(blob.read_bytes()) == f"sha256:{blob.name}"
    manifest = json.loads(store.read_blob(built.digest))
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == mt.OCI_MANIFEST
    assert manifest["config"]["mediaType"] == mt.OCRE_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [mt.OCRE_LAYER_WASM]
    assert store.read_blob(manifest["layers"][0]["digest"]) == hello.read_bytes()
    config = json.loads(store.read_blob(manifest["config"]["digest"]))
    assert config["args"] == ["world"] and config["env"] == ["GREETING=Hi"]
    assert config["memory"]["initial"] >= 65536
    assert "wasi_snapshot_preview1.fd_write" in config["profile"]["imports"]


def test_same_module_same_options_gives_the_same_digest(store: ImageStore, hello: Path) -> None:
    a = build_from_file(store, "hello:1", hello)
    b = build_from_file(store, "other:2", hello)
    assert a.digest != b.digest  # the config records name and version
    c = build_from_file(store, "hello:1", hello)
    assert a.digest == c.digest


def test_resolve_by_tag_digest_prefix_and_default_tag(store: ImageStore, hello: Path) -> None:
    built = build_from_file(store, "hello", hello)
    assert store.resolve("hello") == built.digest
    assert store.resolve("hello:latest") == built.digest
    assert store.resolve(built.digest) == built.digest
    assert store.resolve(built.digest.split(":")[1][:12]) == built.digest
    with pytest.raises(NotFound, match="image 'nope:1' not found"):
        store.resolve("nope:1")


def test_tag_rm_keeps_blobs_until_the_last_tag_goes(store: ImageStore, hello: Path) -> None:
    built = build_from_file(store, "hello:1", hello)
    store.tag("hello:1", "localhost:5000/team/hello:prod")
    assert set(store.image(built.digest).refs) == {"hello:1", "localhost:5000/team/hello:prod"}
    assert store.remove("hello:1") == ["hello:1"]
    assert store.has_blob(built.digest)
    store.remove("localhost:5000/team/hello:prod")
    assert not (store.root / "blobs" / "sha256").exists() or not any(
        (store.root / "blobs" / "sha256").iterdir()
    )
    assert store.entries() == []


def test_rm_by_digest_removes_every_tag(store: ImageStore, hello: Path) -> None:
    built = build_from_file(store, "hello:1", hello)
    store.tag("hello:1", "hello:2")
    assert sorted(store.remove(built.digest)) == ["hello:1", "hello:2"]
    assert store.images() == []


def test_prune_deletes_only_unreferenced_blobs(store: ImageStore, hello: Path) -> None:
    build_from_file(store, "hello:1", hello)
    keep = snapshot(store.root)
    stray = store.put_blob(b"left over from an interrupted pull")
    (store.root / "blobs" / "sha256" / ".abc.tmp").write_bytes(b"torn write")  # removed, not listed
    assert store.prune() == [stray]
    assert snapshot(store.root) == keep


def test_every_image_resolves_by_its_short_id(store: ImageStore) -> None:
    module = wasmtime.wat2wasm('(module (func (export "_start")))')
    digests = [build_image(store, f"m{i}:1", module).digest for i in range(20)]
    assert len(set(digests)) == 20
    for d in digests:
        assert store.resolve(d.split(":")[1][:7]) == d
    absent = next(p for p in ("0000000", "1111111", "2222222") if not any(d[7:14] == p for d in digests))
    with pytest.raises(NotFound):
        store.resolve(absent)


@pytest.mark.parametrize(
    ("module", "options", "fragment"),
    [
        pytest.param(b"not wasm at all", ImageOptions(), "no \\0asm magic", id="not-wasm"),
        pytest.param(
            '(module (import "env" "ocre_gpio_init" (func (result i32))))',
            ImageOptions(target="zephyr:timers"),
            "imports not supported by target zephyr:timers: env.ocre_gpio_init",
            id="unsupported-import",
        ),
        pytest.param(
            '(module (memory (export "memory") 4))',
            ImageOptions(ram_budget=65536),
            "needs 262144 bytes of linear memory at start, more than the RAM budget of 65536",
            id="over-budget",
        ),
        pytest.param(
            b"\0aot\x03\0\0\0", ImageOptions(), "architecture None: expected --arch", id="aot-no-arch"
        ),
        pytest.param(
            "(module)", ImageOptions(env=("NOEQUALS",)), "env[0] 'NOEQUALS': expected KEY=VALUE", id="env"
        ),
    ],
)
def test_bad_build_names_the_problem_and_leaves_store_unchanged(
    store: ImageStore, hello: Path, module: bytes | str, options: ImageOptions, fragment: str
) -> None:
    build_from_file(store, "seed:1", hello)
    before = snapshot(store.root)
    data = wasmtime.wat2wasm(module) if isinstance(module, str) else module
    with pytest.raises((ImageError, InvalidInput)) as err:
        build_image(store, "bad:1", data, options, source="bad.wasm")
    assert fragment in str(err.value)
    assert str(err.value).startswith("bad.wasm: ")
    assert snapshot(store.root) == before


def test_aot_layer_is_stored_with_its_architecture(store: ImageStore) -> None:
    built = build_image(
        store, "fast:1", b"\0aot\x03\0\0\0payload", ImageOptions(aot_architecture="thumbv7em")
    )
    image = store.image("fast:1")
    assert image.manifest.layer.media_type == mt.OCRE_LAYER_AOT
    assert built.config["architecture"] == "thumbv7em"
    assert resolve_runnable("fast:1", store_root=store.root).name == "fast.aot"


def test_build_from_spec_with_missing_wasm_names_the_file(store: ImageStore) -> None:
    with pytest.raises(InvalidInput, match=r"file '.*hello.wasm': expected an existing .wasm file"):
        build_from_spec(store, DATA / "invalid_missing_wasm_file.yaml")


def test_resolve_runnable_and_export(store: ImageStore, hello: Path, tmp_path: Path) -> None:
    built = build_from_file(store, "hello:1", hello, ImageOptions(capabilities=("ocre:api",)))
    image = resolve_runnable("hello:1", store_root=store.root)
    assert image.name == "hello.wasm"
    assert image.digest == built.digest
    assert image.wasm_path.read_bytes() == hello.read_bytes()
    assert image.config["capabilities"] == ["ocre:api"]
    assert resolve_runnable(built.digest, store_root=store.root).name == "hello.wasm"
    path = export_to_images_dir("hello:1", tmp_path / "wd", store_root=store.root)
    assert path == tmp_path / "wd" / "images" / "hello.wasm"
    assert path.read_bytes() == hello.read_bytes()
    with pytest.raises(NotFound):
        resolve_runnable("missing:1", store_root=store.root)


def test_resolve_runnable_defaults_to_the_workdir_store(hello: Path, store_root: Path) -> None:
    build_from_file(ImageStore(), "hello:1", hello)
    assert resolve_runnable("hello:1").wasm_path.is_relative_to(store_root)


def test_corrupt_layer_blob_is_refused_at_resolve(store: ImageStore, hello: Path) -> None:
    build_from_file(store, "hello:1", hello)
    layer = store.image("hello:1").layer_path
    data = bytearray(layer.read_bytes())
    data[-1] ^= 0xFF
    layer.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="digest mismatch"):
        resolve_runnable("hello:1", store_root=store.root)


def test_cli_ls_inspect_tag_rm_prune(cli: Callable[..., object], hello: Path) -> None:
    assert cli("image", "build", "-t", "hello:1", hello).code == 0
    assert cli("image", "tag", "hello:1", "hello:stable").out == "hello:stable\n"
    ls = cli("image", "ls")
    lines = ls.out.splitlines()
    assert lines[0].split() == ["NAME", "TAG", "ID", "SIZE", "SIGNED"]
    assert [line.split()[:2] for line in lines[1:]] == [["hello", "1"], ["hello", "stable"]]
    rows = json.loads(cli("image", "ls", "--json").out)
    assert rows[0]["refs"] == ["hello:1", "hello:stable"] and rows[0]["signed"] is False
    inspect = json.loads(cli("image", "inspect", "hello:1").out)
    assert inspect["config"]["name"] == "hello"
    assert inspect["manifest"]["layers"][0]["mediaType"] == mt.OCRE_LAYER_WASM
    rm = cli("image", "rm", "hello:1", "hello:stable")
    assert rm.code == 0 and rm.out == "Untagged: hello:1\nUntagged: hello:stable\n"
    assert json.loads(cli("image", "ls", "--json").out) == []
    assert json.loads(cli("image", "prune", "--json").out) == {"removed": []}


def test_cli_rm_unknown_is_one_line_nonzero(
    cli: Callable[..., object], hello: Path, store_root: Path
) -> None:
    cli("image", "build", "-t", "hello:1", hello)
    before = snapshot(store_root)
    result = cli("image", "rm", "hello:1", "ghost:9")
    assert result.code == 1
    assert result.err.splitlines()[0] == "ocre: error: image 'ghost:9' not found in the local store"
    assert snapshot(store_root) == before


def test_cli_build_from_c_sources(cli: Callable[..., object]) -> None:
    from tests.conftest import EXAMPLES_DIR

    result = cli("image", "build", "-t", "hello:src", EXAMPLES_DIR / "hello" / "hello.c")
    assert result.code == 0, result.err
    assert result.out.startswith("hello:src sha256:")


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        pytest.param(
            ["image", "build", "-t", "Hello:1", "x.wasm"],
            "ocre: error: image reference 'Hello:1': expected NAME[:TAG]",
            id="bad-ref",
        ),
        pytest.param(
            ["image", "build", "-t", "hello:1", "missing.wasm"],
            "ocre: error: file 'missing.wasm': expected an existing .wasm file",
            id="missing-file",
        ),
        pytest.param(
            ["image", "build", "-t", "hello:1", "--ram-budget", "lots", "x.wasm"],
            "ocre: error: --ram-budget 'lots': expected a byte count",
            id="bad-size",
        ),
        pytest.param(
            ["image", "build", "-t", "hello:1", "--target", "windows", "x.wasm"],
            "ocre: error: target 'windows': expected 'linux', 'zephyr' or 'zephyr:FEATURE,...'",
            id="bad-target",
        ),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(
    cli: Callable[..., object], argv: list[str], line: str, store_root: Path
) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert result.err.splitlines()[0].startswith(line), result.err
    assert snapshot(store_root) == {}


def test_short_name_finds_a_pulled_image_and_rm_untags_only_that(store: ImageStore, hello: Path) -> None:
    built = build_from_file(store, "localhost:5000/hello:1", hello)
    store.tag(built.digest, "keep:me")
    assert store.resolve("hello:1") == built.digest
    assert store.remove("hello:1") == ["localhost:5000/hello:1"]
    assert store.image(built.digest).refs == ("keep:me",)
    build_from_file(store, "example.com/team/hello:1", hello)
    build_from_file(store, "localhost:5000/hello:1", hello, ImageOptions(args=("x",)))
    expected = "'hello:1' is ambiguous: it matches example.com/team/hello:1, localhost:5000/hello:1"
    with pytest.raises(Conflict, match=re.escape(expected)):
        store.resolve("hello:1")


def test_concurrent_writers_lose_no_tags(store_root: Path, tmp_path: Path) -> None:
    """Two processes build 15 images each into one store at the same time; all 30 tags survive."""
    import subprocess
    import sys

    code = (
        "import sys, wasmtime\n"
        "from ocre_py.image import ImageStore, build_image\n"
        "store = ImageStore(sys.argv[1])\n"
        "for i in range(15):\n"
        "    mod = wasmtime.wat2wasm(f'(module (func (export \"_start\")) (global i32 (i32.const {i})))')\n"
        "    build_image(store, f'{sys.argv[2]}{i}:1', mod)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(store_root), p]) for p in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = ImageStore(store_root)
    refs = sorted(e.ref for e in store.entries() if e.ref)
    assert refs == sorted(f"{p}{i}:1" for p in ("a", "b") for i in range(15))
    assert store.prune() == []  # every blob is referenced: no half-recorded image


def test_check_for_target_refuses_what_a_board_cannot_serve(store: ImageStore) -> None:
    from ocre_py.image import check_for_target

    module = wasmtime.wat2wasm(
        '(module (import "env" "ocre_timer_create" (func (param i32) (result i32)))'
        ' (memory (export "memory") 2))'
    )
    build_image(store, "timers:1", module)
    image = resolve_runnable("timers:1", store_root=store.root)
    check_for_target(image, "zephyr", features=["timers"], ram_budget=2 * 65536)
    with pytest.raises(
        ImageError, match=r"timers\.wasm: imports not supported by target zephyr: env\.ocre_timer_create"
    ):
        check_for_target(image, "zephyr", features=["gpio"])
    with pytest.raises(ImageError, match="more than the RAM budget of 65536"):
        check_for_target(image, "zephyr", ram_budget=65536)
