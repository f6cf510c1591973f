"""``ocre doctor``: check a workdir, its image store and a partition image; repair what is safe to repair.

Every writer in the toolkit goes through :func:`ocre_py.fsutil.atomic_write`, so a power cut or a
``kill -9`` can leave only three kinds of debris: a temp file beside its target (``.NAME.*.tmp``), a
blob stored before the index entry that would have named it (an orphan), and a lock file. None of
those is damage, and ``--repair`` removes them. What *is* damage (a blob whose bytes do not match its
digest, an index entry whose blobs are gone, an image file that is not wasm, a partition that does
not mount) is reported with the path; ``--repair`` drops what can be re-fetched (index entries,
corrupt blobs) and leaves user data it cannot rebuild alone.

The checks read only; :func:`diagnose` never changes a byte unless ``repair`` is true, and then it
holds the store's lock so it cannot race a concurrent ``ocre image`` writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import OcreError
from ocre_py.names import is_valid_name

log = logging.getLogger(__name__)

#: Temp files left by :func:`ocre_py.fsutil.atomic_open` (``mkstemp(prefix=".NAME.", suffix=".tmp")``)
#: and by the daemon's token writer (``.NAME.PID.tmp``).
TEMP_FILE = re.compile(r"^\..+\.tmp$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Finding:
    """One problem: where, what, how bad, and what ``--repair`` did about it (if anything)."""

    area: str  # "store", "workdir", "state", "partition"
    path: str
    problem: str
    severity: str = "error"  # "error": damage; "warning": debris that costs nothing but space; "info"
    repaired: str | None = None  # the action taken, when repair ran and could fix it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorReport:
    """What :func:`diagnose` found and did. ``ok`` means nothing is left to fix."""

    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error" and not f.repaired]

    @property
    def unrepaired(self) -> list[Finding]:
        return [f for f in self.findings if not f.repaired and f.severity != "info"]

    @property
    def ok(self) -> bool:
        return not self.unrepaired

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": list(self.checked),
            "findings": [f.to_dict() for f in self.findings],
        }


# --- helpers --------------------------------------------------------------------------------------


def _remove(path: Path) -> str:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return f"removed {path.name}"


def _temp_files(directory: Path, area: str, repair: bool) -> list[Finding]:
    out: list[Finding] = []
    if not directory.is_dir():
        return out
    for p in sorted(directory.iterdir()):
        if p.is_file() and TEMP_FILE.fullmatch(p.name):
            f = Finding(area, str(p), "stale temp file from an interrupted write", "warning")
            if repair:
                f.repaired = _remove(p)
            out.append(f)
    return out


@contextlib.contextmanager
def _flock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold ``path``'s flock while checking; yields False when another process holds it (no wait)."""
    if not path.parent.is_dir():
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _sha256_file(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- the image store ------------------------------------------------------------------------------


def check_store(root: str | os.PathLike[str], *, repair: bool = False) -> list[Finding]:
    """Check an OCI image-layout store (see :mod:`ocre_py.image.store`); optionally repair it."""
    root = Path(root)
    if not root.exists():
        return []
    with _flock(root / ".lock"):
        return _check_store(root, repair)


def _check_store(root: Path, repair: bool) -> list[Finding]:
    from ocre_py.image.digests import is_digest
    from ocre_py.image.manifest import parse_manifest
    from ocre_py.image.store import REF_NAME, SIGNATURE_OF, ImageStore, IndexEntry

    out: list[Finding] = []
    out += _temp_files(root, "store", repair)
    blob_dir = root / "blobs" / "sha256"
    out += _temp_files(blob_dir, "store", repair)
    store = ImageStore(root)

    # Blobs: every name is a digest and every content matches it.
    good: set[str] = set()
    if blob_dir.is_dir():
        for p in sorted(blob_dir.iterdir()):
            if not p.is_file() or TEMP_FILE.fullmatch(p.name):
                continue
            if not _HEX64.fullmatch(p.name):
                f = Finding("store", str(p), "a file that is not a blob in the blob directory", "warning")
                if repair:
                    f.repaired = _remove(p)
                out.append(f)
            elif _sha256_file(p) != p.name:
                f = Finding("store", str(p), "blob content does not match its digest (corrupt)")
                if repair:
                    f.repaired = _remove(p) + " (re-pull or re-build the image)"
                out.append(f)
            else:
                good.add(f"sha256:{p.name}")

    layout = root / "oci-layout"
    try:
        version = json.loads(layout.read_bytes()).get("imageLayoutVersion")
        if not isinstance(version, str):
            raise ValueError
    except FileNotFoundError:
        # A kill before the first write leaves a store with only its lock file: not damage, and
        # the next writer creates the layout; with blobs present, recreating it is the repair.
        f = Finding("store", str(layout), "oci-layout file missing", "warning")
        if repair:
            from ocre_py.fsutil import atomic_write

            atomic_write(layout, json.dumps({"imageLayoutVersion": "1.0.0"}))
            f.repaired = "wrote oci-layout"
        if good or (root / "index.json").exists():
            out.append(f)
    except (OSError, ValueError, AttributeError):
        f = Finding("store", str(layout), "invalid oci-layout file")
        if repair:
            from ocre_py.fsutil import atomic_write

            atomic_write(layout, json.dumps({"imageLayoutVersion": "1.0.0"}))
            f.repaired = "rewrote oci-layout"
        out.append(f)

    index = root / "index.json"
    entries: list[IndexEntry] = []
    raw: list[Any] = []
    if index.exists():
        try:
            doc = json.loads(index.read_bytes())
            raw = doc["manifests"]
            if not isinstance(raw, list):
                raise TypeError
        except (OSError, ValueError, KeyError, TypeError):
            out.append(
                Finding(
                    "store",
                    str(index),
                    "index.json does not parse as an OCI index: restore it or remove the store",
                )
            )
            return out
    elif good:
        out.append(Finding("store", str(index), "index.json is missing but blobs exist", "warning"))

    keep: list[IndexEntry] = []
    changed = False
    for i, m in enumerate(raw):
        try:
            ann = dict(m.get("annotations") or {})
            entry = IndexEntry(
                m["digest"], m["size"], ann.pop(REF_NAME, None), ann.pop(SIGNATURE_OF, None), ann
            )
            if not is_digest(entry.digest):
                raise ValueError
        except (AttributeError, KeyError, TypeError, ValueError):
            f = Finding("store", f"{index}#manifests[{i}]", "malformed index entry")
            if repair:
                f.repaired, changed = "dropped the entry", True
            out.append(f)
            continue
        entries.append(entry)
        what = entry.ref or entry.signature_of or entry.digest
        missing = _missing_blobs(entry.digest, good, store, parse_manifest)
        if missing:
            f = Finding(
                "store", f"{index}#{what}", f"image {entry.digest[:19]} lacks blob(s) {', '.join(missing)}"
            )
            if repair:
                f.repaired, changed = "dropped the index entry (pull or build it again)", True
            out.append(f)
            continue
        keep.append(entry)
    # A signature whose image left the index is dead weight.
    live_images = {e.digest for e in keep if e.signature_of is None}
    for e in list(keep):
        if e.signature_of is not None and e.signature_of not in live_images:
            f = Finding("store", f"{index}#{e.digest[:19]}", "signature of an image no longer in the store",
                        "warning")  # fmt: skip
            if repair:
                keep.remove(e)
                f.repaired, changed = "dropped the signature entry", True
            out.append(f)
    if repair and changed:
        store._write_index(keep)

    live = _live_blobs(keep if repair else entries, good, store, parse_manifest)
    for digest in sorted(good - live):
        p = blob_dir / digest.split(":", 1)[1]
        f = Finding("store", str(p), "orphan blob: no image refers to it", "warning")
        if repair:
            f.repaired = _remove(p)
        out.append(f)
    return out


def _missing_blobs(digest: str, good: set[str], store: Any, parse_manifest: Any) -> list[str]:
    if digest not in good:
        return [digest[:19]]
    try:
        m = parse_manifest(store.blob_path(digest).read_bytes(), image=False)
    except OcreError:
        return [digest[:19] + " (not a manifest)"]
    return [d.digest[:19] for d in (m.config, *m.layers) if d.digest not in good]


def _live_blobs(entries: list[Any], good: set[str], store: Any, parse_manifest: Any) -> set[str]:
    live: set[str] = set()
    for e in entries:
        live.add(e.digest)
        if e.digest in good:
            try:
                m = parse_manifest(store.blob_path(e.digest).read_bytes(), image=False)
            except OcreError:
                continue
            live.update(d.digest for d in (m.config, *m.layers))
    return live


# --- the runtime workdir --------------------------------------------------------------------------


def check_workdir(workdir: str | os.PathLike[str], *, repair: bool = False) -> list[Finding]:
    """Check ``<workdir>/images``, ``containers``, the lock file and the daemon's state directory."""
    from ocre_py.image.wasm import is_aot, parse_module

    wd = Path(workdir)
    out: list[Finding] = []
    if not wd.exists():
        return out
    lock = wd / ".lock"
    if lock.exists():
        with _flock(lock, blocking=False) as free:
            if not free:
                # A live runtime or daemon may be mid-way through an atomic write: its temp file is
                # not debris yet, so the workdir is only checked, never repaired, while it runs.
                note = "in use by a runtime or daemon: checked only" + (", not repaired" if repair else "")
                out.append(Finding("workdir", str(lock), note, "info"))
                repair = False
    out += _temp_files(wd, "workdir", repair)
    images = wd / "images"
    out += _temp_files(images, "workdir", repair)
    if images.is_dir():
        for p in sorted(images.iterdir()):
            if TEMP_FILE.fullmatch(p.name):
                continue
            if not is_valid_name(p.name):
                out.append(
                    Finding("workdir", str(p), "image name breaks the name rule ([a-z0-9._-])", "warning")
                )
            if not p.is_file():
                out.append(Finding("workdir", str(p), "not a regular file in the flat images directory"))
                continue
            data = p.read_bytes()
            if not data:
                continue  # an empty file is a valid (blank-hash) image entry per spec 6
            if is_aot(data):
                continue
            try:
                parse_module(data, source=p.name)
            except OcreError as exc:
                out.append(Finding("workdir", str(p), f"not a valid wasm module: {exc.message}"))
    containers = wd / "containers"
    if containers.is_dir():
        for p in sorted(containers.iterdir()):
            if TEMP_FILE.fullmatch(p.name) and p.is_file():
                f = Finding("workdir", str(p), "stale temp file from an interrupted write", "warning")
                if repair:
                    f.repaired = _remove(p)
                out.append(f)
            elif not is_valid_name(p.name):
                out.append(Finding("workdir", str(p), "container directory name is not a valid container ID",
                                   "warning"))  # fmt: skip
    out += _check_state(wd / "state" / "containers", repair)
    out += _check_daemon_orphans(wd, repair)
    return out


def _check_daemon_orphans(wd: Path, repair: bool) -> list[Finding]:
    """Containers half-created or half-removed by a daemon that was killed, both ways round.

    The daemon writes a container's record before its log and data directories exist, and marks
    the record ``removing`` (a tombstone) before deleting them; so a log directory without a record
    is an orphan (only the daemon makes them), as is a data directory beside one, and a tombstoned
    record is a removal to finish. A data directory alone may belong to ``ocre run`` (no record is
    ever kept for those), so it is only mentioned, never removed.
    """
    import shutil

    state = wd / "state" / "containers"
    if not state.is_dir():
        return []  # not a daemon's workdir
    records: dict[str, bool] = {}  # id -> tombstoned
    for p in sorted(state.glob("*.json")):
        try:
            doc = json.loads(p.read_text())
        except (OSError, ValueError):
            continue  # reported by _check_state
        records[p.stem] = isinstance(doc, dict) and doc.get("removing") is True
    logs, data = wd / "logs", wd / "containers"
    out: list[Finding] = []

    def remove_tree(path: Path) -> str:
        shutil.rmtree(path, ignore_errors=True)
        return f"removed {path.name}/"

    for cid, tombstoned in records.items():
        if not tombstoned:
            continue
        problem = "container removal interrupted (tombstone): record kept"
        f = Finding("state", str(state / f"{cid}.json"), problem, "warning")
        if repair:
            remove_tree(data / cid)
            remove_tree(logs / cid)
            (state / f"{cid}.json").unlink(missing_ok=True)
            f.repaired = f"finished the removal of {cid} (data, log, record)"
        out.append(f)
    for d in sorted(logs.iterdir()) if logs.is_dir() else []:
        if not d.is_dir() or d.name in records or not is_valid_name(d.name):
            continue
        f = Finding("workdir", str(d), "orphan container log directory: no daemon record", "warning")
        if repair:
            f.repaired = remove_tree(d)
        out.append(f)
        if (data / d.name).is_dir():
            g = Finding("workdir", str(data / d.name), "orphan container data directory: no daemon record",
                        "warning")  # fmt: skip
            if repair:
                g.repaired = remove_tree(data / d.name)
            out.append(g)
    for d in sorted(data.iterdir()) if data.is_dir() else []:
        if d.is_dir() and d.name not in records and is_valid_name(d.name) and not (logs / d.name).exists():
            note = "container data directory with no daemon record ('ocre run' without --rm?): left alone"
            out.append(Finding("workdir", str(d), note, "info"))
    return out


def _check_state(directory: Path, repair: bool) -> list[Finding]:
    """The daemon's container records: each ``<id>.json`` parses and names its own ID."""
    out = _temp_files(directory, "state", repair)
    if not directory.is_dir():
        return out
    for p in sorted(directory.iterdir()):
        if p.suffix == ".bad":
            out.append(
                Finding("state", str(p), "a record the daemon could not read and moved aside", "warning")
            )
            continue
        if p.suffix != ".json":
            continue
        try:
            doc = json.loads(p.read_text())
            if (
                not isinstance(doc, dict)
                or doc.get("id") != p.stem
                or not isinstance(doc.get("request"), dict)
            ):
                raise ValueError("not a container record for this file name")
        except (OSError, ValueError) as exc:
            f = Finding("state", str(p), f"unreadable container record ({exc})")
            if repair:
                os.replace(p, p.with_suffix(".bad"))
                f.repaired = f"moved aside to {p.with_suffix('.bad').name}"
            out.append(f)
    return out


# --- a partition image ----------------------------------------------------------------------------


def check_partition(
    path: str | os.PathLike[str], *, block_size: int | None = None, repair: bool = False
) -> list[Finding]:
    """Mount a storage-partition image read-only and check the Ocre layout, its images and autostart.

    A tiny-profile bundle (``OCRB`` magic) is validated as a bundle instead: header, CRC and modules.

    Nothing is written back (even with ``repair``): a partition is the device's data, and the way to
    repair one is to deploy again (``--replace``). Without ``block_size`` the geometry comes from the
    superblock, which is only trusted when it agrees with the file length (see ``detect_geometry``).
    """
    from ocre_py.image.wasm import is_aot, parse_module
    from ocre_py.zephyr.board.geometry import Geometry
    from ocre_py.zephyr.storage import autostart
    from ocre_py.zephyr.storage import littlefs as partition

    p = Path(path)
    out: list[Finding] = []
    try:
        data = p.read_bytes()
    except OSError as exc:
        return [Finding("partition", str(p), f"cannot read the image ({exc.strerror})")]
    from ocre_py.zephyr.storage.bundle import MAGIC

    if data[: len(MAGIC)] == MAGIC:  # the tiny profile's bundle, not a LittleFS image
        if repair:
            log.info("%s: bundles are reported, never rewritten; redeploy to repair", p)
        return _check_bundle(data, p)
    try:
        if block_size:
            geometry = Geometry(address=0, size=len(data), erase_block=block_size, source=str(p))
        else:
            geometry = partition.detect_geometry(data, source=str(p))
    except OcreError as exc:
        return [Finding("partition", str(p), exc.message)]
    try:
        fs = _mount_readonly(data, geometry)
    except OcreError as exc:
        return [Finding("partition", str(p), exc.message)]
    for d in (partition.ROOT, partition.IMAGES_DIR, partition.CONTAINERS_DIR):
        if not _lfs_isdir(fs, d):
            out.append(Finding("partition", f"{p}:/{d}", "Ocre directory missing (deploy creates it)"))
    names: set[str] = set()
    if _lfs_isdir(fs, partition.IMAGES_DIR):
        for name in sorted(_lfs_call(fs.listdir, partition.IMAGES_DIR) or []):
            names.add(name)
            where = f"{p}:/{partition.IMAGES_DIR}/{name}"
            try:
                with fs.open(f"{partition.IMAGES_DIR}/{name}", "rb") as fh:
                    blob = bytes(fh.read())
                if not is_aot(blob):
                    parse_module(blob, source=name)
            except OcreError as exc:
                out.append(Finding("partition", where, f"not a valid wasm module: {exc.message}"))
            except Exception as exc:  # littlefs raises its own errors and OSErrors for bad metadata
                out.append(Finding("partition", where, f"unreadable ({type(exc).__name__} {exc})"))
    if _lfs_exists(fs, partition.AUTOSTART_FILE):
        where = f"{p}:/{partition.AUTOSTART_FILE}"
        try:
            with fs.open(partition.AUTOSTART_FILE, "rb") as fh:
                entries = autostart.parse(bytes(fh.read()).decode(), source=where)
            for e in entries:
                if e.image not in names:
                    out.append(Finding("partition", where, f"autostart entry '{e.name}' names missing image "
                                                           f"'{e.image}'"))  # fmt: skip
        except OcreError as exc:
            out.append(Finding("partition", where, exc.message))
        except Exception as exc:
            out.append(Finding("partition", where, f"unreadable ({type(exc).__name__} {exc})"))
    if repair:
        log.info("%s: partition images are reported, never rewritten; redeploy to repair", p)
    return out


def _check_bundle(data: bytes, p: Path) -> list[Finding]:
    """Validate a tiny-profile bundle as the firmware reads it: header, CRC, entries, modules."""
    from ocre_py.image.wasm import is_aot, parse_module
    from ocre_py.zephyr.storage.bundle import read_bundle

    try:
        bundle = read_bundle(data, source=str(p), partition_size=len(data))
    except OcreError as exc:
        return [Finding("partition", str(p), f"{exc.message} (an Ocre bundle: deploy again to rewrite it)")]
    out = []
    for entry in bundle.entries:
        try:
            if not is_aot(entry.module):
                parse_module(entry.module, source=entry.name)
        except OcreError as exc:
            out.append(Finding("partition", f"{p}:{entry.name}", f"not a valid wasm module: {exc.message}"))
    return out


def _mount_readonly(data: bytes, geometry: Any) -> Any:
    from littlefs import LittleFS, LittleFSError, UserContext

    from ocre_py.errors import DeployError
    from ocre_py.zephyr.storage.littlefs import NAME_MAX

    fs = LittleFS(
        context=UserContext(buffer=bytearray(data)),  # a copy: the file itself is never touched
        mount=False,
        block_size=geometry.erase_block,
        block_count=geometry.block_count,
        name_max=NAME_MAX,
    )
    try:
        fs.mount()
    except LittleFSError as exc:
        raise DeployError(
            f"not a LittleFS image with block size {geometry.erase_block} "
            f"and {geometry.block_count} blocks ({exc})"
        ) from None
    return fs


def _lfs_call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:
        return None


def _lfs_exists(fs: Any, path: str) -> bool:
    return _lfs_call(fs.stat, path) is not None


def _lfs_isdir(fs: Any, path: str) -> bool:
    st = _lfs_call(fs.stat, path)
    return st is not None and st.type == 2  # LFS_TYPE_DIR


# --- all of it ------------------------------------------------------------------------------------


def diagnose(
    workdir: str | os.PathLike[str],
    *,
    store: str | os.PathLike[str] | None = None,
    partition: str | os.PathLike[str] | None = None,
    block_size: int | None = None,
    repair: bool = False,
) -> DoctorReport:
    """Check (and with ``repair`` fix) a workdir, its store (default ``<workdir>/store``), a partition."""
    report = DoctorReport()
    wd = Path(workdir)
    store_root = Path(store) if store is not None else wd / "store"
    report.checked.append(f"workdir {wd}")
    report.findings += check_workdir(wd, repair=repair)
    report.checked.append(f"store {store_root}")
    report.findings += check_store(store_root, repair=repair)
    if partition is not None:
        report.checked.append(f"partition {partition}")
        report.findings += check_partition(partition, block_size=block_size, repair=repair)
    for f in report.findings:
        if f.repaired:
            log.info("repaired %s: %s (%s)", f.path, f.problem, f.repaired)
    return report
