"""``ocre doctor``: what a kill or a bad disk leaves behind is found, and ``--repair`` fixes what it can.

Each case damages a real store / workdir / partition the way a crash or a failing disk would and
checks the command's report, exit status and the files afterwards.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fuzz._seeds import runnable_module
from fuzz.crashkill import big_module
from ocre_py.image import ImageStore, build_image
from ocre_py.image.manifest import parse_manifest
from ocre_py.zephyr.board.geometry import Geometry
from ocre_py.zephyr.storage import autostart
from ocre_py.zephyr.storage.littlefs import Partition
from tests.conftest import CliResult

Cli = Callable[..., CliResult]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    wd = tmp_path / "wd"
    store = ImageStore(wd / "store")
    build_image(store, "keep:1", runnable_module())
    build_image(store, "other:1", big_module(2, 64))  # another module (a custom section): another digest
    (wd / "images").mkdir()
    (wd / "images" / "hello").write_bytes(runnable_module())
    return wd


def _layer(store: ImageStore, ref: str) -> Path:
    m = parse_manifest(store.read_blob(store.resolve(ref)))
    return store.blob_path(m.layer.digest)


def test_a_clean_workdir_is_ok(ocre_cli: Cli, workdir: Path) -> None:
    r = ocre_cli("doctor", "--workdir", workdir)
    assert r.code == 0, r.out + r.err
    assert "ok: nothing to fix" in r.out


def test_debris_of_killed_writes_is_reported_then_removed(ocre_cli: Cli, workdir: Path) -> None:
    store = ImageStore(workdir / "store")
    debris = [
        workdir / "store" / ".index.json.k2j3.tmp",
        workdir / "store" / "blobs" / "sha256" / ".0123abcd.x9.tmp",
        workdir / "images" / ".hello.abc.tmp",
    ]
    for p in debris:
        p.write_bytes(b"half")
    orphan = store.put_blob(b"a blob stored by a pull killed before its index entry")
    r = ocre_cli("doctor", "--workdir", workdir)
    assert r.code == 1
    assert r.out.count("stale temp file") == 3 and "orphan blob" in r.out
    r = ocre_cli("doctor", "--workdir", workdir, "--repair")
    assert r.code == 0, r.out
    assert not any(p.exists() for p in debris) and not store.has_blob(orphan)
    assert {i.refs for i in store.images()} == {("keep:1",), ("other:1",)}
    assert ocre_cli("doctor", "--workdir", workdir).code == 0


def test_missing_blob_drops_only_that_image(ocre_cli: Cli, workdir: Path) -> None:
    store = ImageStore(workdir / "store")
    _layer(store, "other:1").unlink()
    r = ocre_cli("doctor", "--workdir", workdir, "--json")
    report = json.loads(r.out)
    assert r.code == 1 and not report["ok"]
    assert any("lacks blob" in f["problem"] and f["severity"] == "error" for f in report["findings"])
    r = ocre_cli("doctor", "--workdir", workdir, "--repair", "--json")
    assert r.code == 0 and json.loads(r.out)["ok"]
    assert [i.refs for i in store.images()] == [("keep:1",)]


def test_corrupt_blob_is_found_by_digest(ocre_cli: Cli, workdir: Path) -> None:
    store = ImageStore(workdir / "store")
    layer = _layer(store, "keep:1")
    data = bytearray(layer.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit of a failing flash/disk
    layer.write_bytes(bytes(data))
    r = ocre_cli("doctor", "--workdir", workdir)
    assert r.code == 1 and "corrupt" in r.out
    assert ocre_cli("doctor", "--workdir", workdir, "--repair").code == 0
    assert [i.refs for i in store.images()] == [("other:1",)]


def test_unparseable_index_is_reported_and_left_alone(ocre_cli: Cli, workdir: Path) -> None:
    index = workdir / "store" / "index.json"
    index.write_text('{"manifests": [')
    r = ocre_cli("doctor", "--workdir", workdir, "--repair")
    assert r.code == 1 and "does not parse" in r.out
    assert index.read_text() == '{"manifests": ['  # tags cannot be rebuilt: never guessed


def test_workdir_images_and_daemon_records(ocre_cli: Cli, workdir: Path) -> None:
    (workdir / "images" / "broken").write_bytes(b"\0asm\x01\0\0\0\x01\xff")
    state = workdir / "state" / "containers"
    state.mkdir(parents=True)
    (state / "abc1234.json").write_text("[1, 2]")
    (state / "good.json").write_text(json.dumps({"id": "good", "request": {"image": "hello"}}))
    r = ocre_cli("doctor", "--workdir", workdir)
    assert r.code == 1 and "not a valid wasm module" in r.out and "unreadable container record" in r.out
    r = ocre_cli("doctor", "--workdir", workdir, "--repair")
    assert (state / "abc1234.bad").exists() and (state / "good.json").exists()
    assert r.code == 1, "a broken image file is the user's data: reported, not deleted"
    assert (workdir / "images" / "broken").exists()


def _partition(path: Path, *, entries: list[autostart.AutostartEntry], image: str = "app.wasm") -> None:
    part = Partition.new(Geometry(address=0, size=64 * 1024, erase_block=4096))
    part.add_image(image, runnable_module())
    part.set_autostart(entries)
    part.write(path)


def test_partition_image_checks(ocre_cli: Cli, workdir: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.bin"
    _partition(good, entries=[autostart.AutostartEntry("app", "app.wasm")])
    r = ocre_cli("doctor", "--workdir", workdir, "--partition", good, "--block-size", "4K")
    assert r.code == 0, r.out
    assert ocre_cli("doctor", "--workdir", workdir, "--partition", good).code == 0, "geometry from superblock"

    dangling = tmp_path / "dangling.bin"
    _partition(dangling, entries=[autostart.AutostartEntry("app", "app.wasm")], image="other.wasm")
    r = ocre_cli("doctor", "--workdir", workdir, "--partition", dangling, "--block-size", "4096")
    assert r.code == 1 and "names missing image 'app.wasm'" in r.out

    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(64 * 1024))
    before = garbage.read_bytes()
    r = ocre_cli("doctor", "--workdir", workdir, "--partition", garbage, "--block-size", "4096", "--repair")
    assert r.code == 1 and "not a LittleFS image" in r.out
    assert garbage.read_bytes() == before, "doctor never formats or rewrites a partition"


def test_daemon_restores_past_records_it_cannot_use(tmp_path: Path) -> None:
    """A record that is JSON but not a record (or holds a malformed request) is moved aside, not fatal."""
    from ocre_py.daemon import Daemon

    state = tmp_path / "wd" / "state" / "containers"
    state.mkdir(parents=True)
    (state / "abc.json").write_text("[1, 2]")
    (state / "zzz.json").write_text(json.dumps({"id": "zzz", "request": "hello"}))
    daemon = Daemon(tmp_path / "wd")
    try:
        assert daemon.restore() == []
    finally:
        daemon.close()
    assert sorted(p.name for p in state.iterdir()) == ["abc.bad", "zzz.bad"]


def test_a_workdir_in_use_is_checked_but_never_repaired(ocre_cli: Cli, workdir: Path) -> None:
    """A live daemon's temp file may be a write in progress: doctor must not pull it away."""
    from ocre_py.runtime import Runtime

    tmp = workdir / "images" / ".hello.inflight.tmp"
    with Runtime(workdir):  # holds the workdir lock, as a daemon does
        tmp.write_bytes(b"being written")
        r = ocre_cli("doctor", "--workdir", workdir, "--repair")
        assert tmp.exists() and "in use by a runtime or daemon" in r.out
        assert r.code == 1, "the temp file is still reported"
    assert ocre_cli("doctor", "--workdir", workdir, "--repair").code == 0
    assert not tmp.exists()


def test_a_store_killed_before_its_first_write_is_not_damaged(ocre_cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "wd" / "store"
    store.mkdir(parents=True)
    (store / ".lock").touch()  # what ImageStore.locked() leaves when killed before the first blob
    assert ocre_cli("doctor", "--workdir", tmp_path / "wd").code == 0
    (store / "oci-layout").unlink(missing_ok=True)
    blob = ImageStore(store).put_blob(b"x")
    (store / "oci-layout").unlink()
    r = ocre_cli("doctor", "--workdir", tmp_path / "wd", "--repair")
    assert "oci-layout file missing" in r.out and (store / "oci-layout").is_file()
    assert not ImageStore(store).has_blob(blob), "and the orphan went too"


def _daemon_container(wd: Path, cid: str, *, started: bool = True) -> None:
    """The daemon's own record, log and data of one container, made by a real daemon."""
    from ocre_py.daemon import Daemon

    daemon = Daemon(wd)
    try:
        daemon.create({"image": "hello", "name": cid, "capabilities": ["filesystem"]})
        if started:
            daemon.start(cid)
            daemon.wait(cid, 30)
    finally:
        daemon.close()


def test_daemon_orphans_both_ways_are_found_and_repaired(ocre_cli: Cli, workdir: Path) -> None:
    for cid in ("kept", "orphan", "removing"):
        _daemon_container(workdir, cid)
    state = workdir / "state" / "containers"
    (state / "orphan.json").unlink()  # a create or remove killed between its steps (old order)
    rec = json.loads((state / "removing.json").read_text())
    (state / "removing.json").write_text(json.dumps({**rec, "removing": True}))  # tombstone
    (workdir / "containers" / "by-ocre-run").mkdir()  # `ocre run` without --rm: not the daemon's

    r = ocre_cli("doctor", "--workdir", workdir, "--json")
    found = {(Path(f["path"]).name, f["problem"].split(":")[0]) for f in json.loads(r.out)["findings"]}
    assert ("orphan", "orphan container log directory") in found
    assert ("orphan", "orphan container data directory") in found
    assert ("removing.json", "container removal interrupted (tombstone)") in found
    assert r.code == 1

    r = ocre_cli("doctor", "--workdir", workdir, "--repair")
    assert r.code == 0, r.out
    for gone in (workdir / "logs" / "orphan", workdir / "containers" / "orphan", state / "removing.json",
                 workdir / "logs" / "removing", workdir / "containers" / "removing"):  # fmt: skip
        assert not gone.exists(), gone
    assert (state / "kept.json").exists() and (workdir / "containers" / "kept").is_dir()
    assert (workdir / "containers" / "by-ocre-run").is_dir(), "not provably the daemon's: left alone"
    assert ocre_cli("doctor", "--workdir", workdir).code == 0


def test_a_restore_finishes_an_interrupted_removal_and_names_never_inherit(tmp_path: Path) -> None:
    from ocre_py.daemon import Daemon
    from ocre_py.errors import Conflict

    wd = tmp_path / "wd"
    (wd / "images").mkdir(parents=True)
    (wd / "images" / "hello").write_bytes(runnable_module())
    _daemon_container(wd, "gone")
    state = wd / "state" / "containers"
    rec = json.loads((state / "gone.json").read_text())
    (state / "gone.json").write_text(json.dumps({**rec, "removing": True}))
    (wd / "containers" / "stale").mkdir(parents=True)  # data of an earlier "stale", no record
    daemon = Daemon(wd)
    try:
        daemon.restore()
        assert daemon.containers() == []  # the tombstoned container did not come back
        assert not (wd / "containers" / "gone").exists() and not (state / "gone.json").exists()
        with pytest.raises(Conflict, match="'stale' has a data directory left without a record"):
            daemon.create({"image": "hello", "name": "stale"})
        assert not (state / "stale.json").exists()
    finally:
        daemon.close()
