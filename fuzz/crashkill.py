"""``python -m fuzz.crashkill --iterations N [OP...]``: kill -9 operations at random points, then check.

Each iteration forks a real child process that runs one operation (an ``ocre`` command in-process,
or a library call), sleeps a random delay drawn from the operation's measured duration, and sends
it SIGKILL — no cleanup handler, ``finally`` or ``atexit`` runs, exactly like a power cut as far as
the file system's view of this process goes. Forking (rather than spawning ``python``) keeps the
interpreter start-up out of the kill window, so the kills land inside the operation.

After each kill the state is checked with :mod:`ocre_py.doctor` (no damage may be found: debris
such as temp files and orphan blobs is allowed and counted) and, every few iterations and at the
end, the operation is run again to completion in a fresh child and must succeed: a killed
operation never blocks the next one. The state accumulates across iterations, as on a device that
loses power again and again.

Operations: ``image-build``, ``image-load``, ``image-pull`` and ``registry-push`` (against a real
``docker-registry`` on loopback), ``partition-write``, ``deploy-output`` (``ocre zephyr deploy -o``),
``daemon-state``, ``daemon-churn`` (create/start/force-remove under load; no orphan either way).
Results go to ``fuzz/results/crash.json`` and ``docs/reliability.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from fuzz.report import RESULTS_DIR, write_report
from ocre_py.image.wasm import encode_uleb

REPO = Path(__file__).resolve().parents[1]
BOARD = "mps2/an385"
BLOCK = 4096


def big_module(tag: int, size: int = 512 * 1024) -> bytes:
    """A runnable module of about ``size`` bytes, unique per ``tag`` (a custom section carries both).

    Large enough that writing and hashing it takes a few milliseconds, so kills land inside blob
    writes and not only around them.
    """
    from fuzz._seeds import runnable_module

    payload = struct.pack("<Q", tag) + random.Random(tag).randbytes(size)
    name = b"ocre.pad"
    body = bytes([len(name)]) + name + payload
    return runnable_module() + b"\0" + encode_uleb(len(body)) + body


def _cli(*argv: str) -> int:
    import io

    from ocre_py.cli.main import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(list(argv))


def _damage(findings: list[Any]) -> list[str]:
    """Doctor findings that are damage (errors), as opposed to debris a kill may leave (warnings)."""
    return [f"{f.path}: {f.problem}" for f in findings if f.severity == "error"]


@dataclass
class Operation:
    """One operation under test: prepare state once, run it (in the child), check it, prepare a retry."""

    name: str
    work: Path
    env: dict[str, str] = field(default_factory=dict)
    iteration: int = 0
    #: Run the child in a fresh interpreter instead of a fork. Needed when the child starts engines
    #: and threads: a fork copies locks that other threads of the parent (e.g. inside wasmtime) held
    #: at that instant, and the child can deadlock on them.
    spawn: ClassVar[bool] = False

    def setup(self) -> None: ...

    def before(self) -> None:
        """Parent side, before each iteration (e.g. remove what the last run added)."""

    def run(self) -> int:
        """Child side: the operation; returns its exit status."""
        raise NotImplementedError

    def check(self) -> list[str]:
        """Parent side, after a kill: damage found (empty = valid)."""
        raise NotImplementedError

    def verify_done(self) -> list[str]:
        """Parent side, after an uninterrupted run: what should exist does."""
        return []

    def doctor_root(self) -> Path | None:
        """The workdir ``ocre doctor --repair`` cleans at the end (None: nothing host-side to repair)."""
        return None

    def close(self) -> None: ...


class _StoreOp(Operation):
    @property
    def home(self) -> Path:
        return self.work / "home"

    def doctor_root(self) -> Path | None:
        return self.home

    @property
    def store_root(self) -> Path:
        return self.home / "store"

    def check(self) -> list[str]:
        from ocre_py.doctor import check_store
        from ocre_py.image import ImageStore

        problems = _damage(check_store(self.store_root))
        try:
            ImageStore(self.store_root).images()  # every listed image resolves
        except Exception as exc:  # the check is that nothing at all escapes here
            problems.append(f"image ls fails: {type(exc).__name__}: {exc}")
        return problems


class ImageBuild(_StoreOp):
    """``ocre image build -t crash:N big.wasm``: a new blob and an index update each time."""

    def before(self) -> None:
        (self.work / "in.wasm").write_bytes(big_module(self.iteration))

    def run(self) -> int:
        return _cli("image", "build", "-t", f"crash:{self.iteration}", str(self.work / "in.wasm"))

    def verify_done(self) -> list[str]:
        from ocre_py.image import ImageStore

        ImageStore(self.store_root).resolve(f"crash:{self.iteration}")
        return []


class ImageLoad(_StoreOp):
    """``ocre image load -i images.tar`` (three images); the store is emptied before each iteration."""

    def setup(self) -> None:
        from ocre_py.image import ImageStore, build_image, save

        scratch = ImageStore(self.work / "scratch")
        for i in range(3):
            build_image(scratch, f"load{i}:1", big_module(1000 + i, 256 * 1024))
        save(scratch, [f"load{i}:1" for i in range(3)], self.work / "images.tar")

    def before(self) -> None:
        from ocre_py.image import ImageStore

        store = ImageStore(self.store_root)
        for e in store.entries():
            if e.ref:
                with contextlib.suppress(Exception):
                    store.remove(e.ref)

    def run(self) -> int:
        return _cli("image", "load", "-i", str(self.work / "images.tar"))

    def verify_done(self) -> list[str]:
        from ocre_py.image import ImageStore

        store = ImageStore(self.store_root)
        return [
            f"load{i}:1 missing" for i in range(3) if not any(e.ref == f"load{i}:1" for e in store.entries())
        ]


class _RegistryOp(_StoreOp):
    host: str = ""

    def setup(self) -> None:
        from tests.image.conftest import run_registry

        self._registry = run_registry(self.work / "registry")
        self.host = self._registry.__enter__().host

    def close(self) -> None:
        self._registry.__exit__(None, None, None)


class ImagePull(_RegistryOp):
    """``ocre image pull 127.0.0.1:PORT/pulled:1``; the image is removed locally before each iteration."""

    def setup(self) -> None:
        super().setup()
        from ocre_py.image import ImageStore, build_image, push

        src = ImageStore(self.work / "src")
        build_image(src, f"{self.host}/pulled:1", big_module(7, 1024 * 1024))
        push(src, f"{self.host}/pulled:1")

    def before(self) -> None:
        from ocre_py.image import ImageStore

        store = ImageStore(self.store_root)
        with contextlib.suppress(Exception):
            store.remove(f"{self.host}/pulled:1")

    def run(self) -> int:
        return _cli("image", "pull", f"{self.host}/pulled:1")

    def verify_done(self) -> list[str]:
        from ocre_py.image import ImageStore

        ImageStore(self.store_root).resolve(f"{self.host}/pulled:1")
        return []


class RegistryPush(_RegistryOp):
    """``ocre image push HOST/pushN:1`` of a new image each time; a retry must complete the upload."""

    def before(self) -> None:
        from ocre_py.image import ImageStore, build_image

        build_image(
            ImageStore(self.store_root),
            f"{self.host}/push{self.iteration}:1",
            big_module(5000 + self.iteration),
        )

    def run(self) -> int:
        return _cli("image", "push", f"{self.host}/push{self.iteration}:1")

    def verify_done(self) -> list[str]:
        from ocre_py.image import ImageStore, pull

        scratch = ImageStore(self.work / f"verify{self.iteration}")
        t = pull(scratch, f"{self.host}/push{self.iteration}:1")
        want = ImageStore(self.store_root).resolve(f"{self.host}/push{self.iteration}:1")
        shutil.rmtree(scratch.root, ignore_errors=True)
        return [] if t.digest == want else [f"pulled {t.digest}, pushed {want}"]


class PartitionWrite(Operation):
    """Mount ``storage.bin``, add an image, rewrite autostart, ``Partition.write`` it back."""

    SIZE = 128 * 1024

    @property
    def path(self) -> Path:
        return self.work / "storage.bin"

    def _geometry(self) -> Any:
        from ocre_py.zephyr.board.geometry import Geometry

        return Geometry(address=0, size=self.SIZE, erase_block=BLOCK, source="crash")

    def setup(self) -> None:
        from ocre_py.zephyr.storage.littlefs import Partition

        Partition.new(self._geometry()).write(self.path)

    def run(self) -> int:
        from ocre_py.zephyr.storage import autostart
        from ocre_py.zephyr.storage.littlefs import Partition

        part = Partition.from_file(self.path, self._geometry())
        for e in part.images():  # keep the image small: replace the previous one
            part.remove_image(e.name)
        name = f"app{self.iteration % 7}.wasm"
        part.add_image(name, big_module(self.iteration, 16 * 1024))
        part.set_autostart([autostart.AutostartEntry(f"app{self.iteration % 7}", name)])
        part.write(self.path)
        return 0

    def check(self) -> list[str]:
        from ocre_py.doctor import check_partition

        return _damage(check_partition(self.path, block_size=BLOCK))

    def verify_done(self) -> list[str]:
        from ocre_py.zephyr.storage.littlefs import Partition

        names = [e.name for e in Partition.from_file(self.path, self._geometry()).images()]
        return [] if names == [f"app{self.iteration % 7}.wasm"] else [f"images after write: {names}"]


class DeployOutput(Operation):
    """``ocre zephyr deploy app.wasm -b BOARD -o storage.bin`` (extends the previous file each time)."""

    @property
    def path(self) -> Path:
        return self.work / "out" / "storage.bin"

    def before(self) -> None:
        (self.work / f"app{self.iteration % 5}.wasm").write_bytes(big_module(self.iteration, 8 * 1024))

    def run(self) -> int:
        wasm = self.work / f"app{self.iteration % 5}.wasm"
        return _cli("zephyr", "deploy", str(wasm), "-b", BOARD, "-o", str(self.path), "--autostart")

    def check(self) -> list[str]:
        from ocre_py.doctor import check_partition

        if not self.path.exists():
            return []  # killed before the first write: nothing to check
        return _damage(check_partition(self.path))

    def verify_done(self) -> list[str]:
        from ocre_py.doctor import check_partition

        return _damage(check_partition(self.path))


class DaemonState(Operation):
    """A daemon creating, starting and removing containers, each change persisted to its state dir.

    After the kill, a fresh daemon must restore from what is on disk (the way it does after a crash)
    and the doctor must find every record readable.
    """

    spawn = True

    @property
    def wd(self) -> Path:
        return self.work / "wd"

    def doctor_root(self) -> Path | None:
        return self.wd

    def setup(self) -> None:
        from fuzz._seeds import runnable_module

        (self.wd / "images").mkdir(parents=True, exist_ok=True)
        (self.wd / "images" / "hello").write_bytes(runnable_module())

    def run(self) -> int:
        from ocre_py.daemon.service import Daemon

        daemon = Daemon(self.wd)
        try:
            daemon.restore()
            ids = sorted(p.stem for p in (self.wd / "state" / "containers").glob("*.json"))
            for cid in ids[:-3] if len(ids) > 3 else []:
                daemon.remove(cid, force=True)
            for k in range(3):
                made = daemon.create({"image": "hello", "args": [str(k)], "restart": "on-failure"})
                daemon.start(made["id"])
        finally:
            daemon.close()
        return 0

    def check(self) -> list[str]:
        from ocre_py.daemon.service import Daemon
        from ocre_py.doctor import check_workdir

        problems = _damage(check_workdir(self.wd))
        try:
            daemon = Daemon(self.wd)
            try:
                daemon.restore()
            finally:
                daemon.close()
        except Exception as exc:
            problems.append(f"a new daemon cannot restore: {type(exc).__name__}: {exc}")
        return problems


class DaemonChurn(DaemonState):
    """Containers created, started (each gets a data dir and a log) and force-removed while running.

    After each kill nothing may be orphaned either way: no data or log directory without a record
    (the record is written first), and every interrupted removal is a tombstoned record that the
    next daemon finishes — never a removed container that comes back.
    """

    orphans_seen = 0

    def run(self) -> int:
        from ocre_py.daemon.service import Daemon, DaemonOptions

        daemon = Daemon(self.wd, options=DaemonOptions(shutdown_grace=0.1))
        try:
            daemon.restore()
            made = []
            for k in range(4):
                c = daemon.create(
                    {"image": "spin", "args": [str(k)], "capabilities": ["filesystem"], "restart": "no"}
                )
                daemon.start(c["id"])
                made.append(c["id"])
            for cid in sorted(c["id"] for c in daemon.containers() if c["id"] not in made[-2:]):
                daemon.remove(cid, force=True)
        finally:
            daemon.close()
        return 0

    def setup(self) -> None:
        super().setup()
        import wasmtime

        spin = '(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))'
        (self.wd / "images" / "spin").write_bytes(bytes(wasmtime.wat2wasm(spin)))

    def _without_data(self) -> list[str]:
        """Live (not tombstoned) records of started containers whose data directory is gone: a
        removal that deleted the data before the record, which a restore would bring back."""
        import json

        out = []
        for p in sorted((self.wd / "state" / "containers").glob("*.json")):
            rec = json.loads(p.read_text())
            if (
                rec.get("started_at")
                and not rec.get("removing")
                and not (self.wd / "containers" / p.stem).is_dir()
            ):
                out.append(f"{p}: a started container's record without its data directory")
        return out

    def check(self) -> list[str]:
        from ocre_py.doctor import check_workdir

        orphans = [
            f"{f.path}: {f.problem}"
            for f in check_workdir(self.wd)
            if "orphan" in f.problem or "no daemon record" in f.problem
        ]
        orphans += self._without_data()
        self.orphans_seen += len(orphans)
        problems = orphans + super().check()  # the restore also finishes interrupted removals
        problems += [
            f"{f.path}: {f.problem} (after a restore)"
            for f in check_workdir(self.wd)
            if "orphan" in f.problem or "tombstone" in f.problem or "no daemon record" in f.problem
        ]
        return problems


OPERATIONS: dict[str, type[Operation]] = {
    "image-build": ImageBuild,
    "image-load": ImageLoad,
    "image-pull": ImagePull,
    "registry-push": RegistryPush,
    "partition-write": PartitionWrite,
    "deploy-output": DeployOutput,
    "daemon-state": DaemonState,
    "daemon-churn": DaemonChurn,
}


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _fork_run(
    op: Operation, kill_after: float | None, timeout: float = 60.0
) -> tuple[bool, int | None, float]:
    """Run ``op.run`` in a forked child; SIGKILL it after ``kill_after`` s (None: let it finish).

    Returns (killed, exit status when it finished, seconds it ran).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(FileNotFoundError):
        (op.work / "child-error.txt").unlink()
    if op.spawn:
        return _spawn_run(op, kill_after, timeout)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: run, then leave without any parent cleanup (atexit, pytest)
        code = 1
        try:
            os.chdir(op.work)
            code = op.run()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                (op.work / "child-error.txt").write_text(f"{type(exc).__name__}: {exc}\n")
            code = 70
        finally:
            os._exit(code & 0xFF)
    killed = False
    deadline = started + (timeout if kill_after is None else kill_after)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return False, os.waitstatus_to_exitcode(status), time.monotonic() - started
        now = time.monotonic()
        if now >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            killed = True
            return killed, None, now - started
        time.sleep(min(0.0005, max(0.0, deadline - now)))


def _spawn_run(op: Operation, kill_after: float | None, timeout: float) -> tuple[bool, int | None, float]:
    """:func:`_fork_run` for ``spawn`` operations: the child is ``python -m fuzz.crashkill --child``."""
    cmd = [sys.executable, "-m", "fuzz.crashkill", "--child", op.name, str(op.work), str(op.iteration)]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **op.env})
    try:
        code = proc.wait(timeout if kill_after is None else kill_after)
        return False, code, time.monotonic() - started
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True, None, time.monotonic() - started


def _child(name: str, work: str, iteration: str) -> int:
    """The spawned child: rebuild the operation and run it once, recording an exception as the fork does."""
    op = OPERATIONS[name](name, Path(work), {})
    op.iteration = int(iteration)
    try:
        os.chdir(op.work)
        return op.run()
    except BaseException as exc:
        with contextlib.suppress(Exception):
            (op.work / "child-error.txt").write_text(f"{type(exc).__name__}: {exc}\n")
        return 70


@dataclass
class Outcome:
    operation: str
    iterations: int = 0
    killed: int = 0
    completed: int = 0
    invalid: int = 0
    retry_failed: int = 0
    #: temp files, orphan blobs... that ``ocre doctor --repair`` removed at the end (None: no workdir)
    debris_repaired: int | None = None
    #: container data/log directories left without a record, summed over the kills (daemon-churn)
    orphans: int | None = None
    op_ms: float = 0.0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_operation(
    name: str, iterations: int, *, seed: int = 0, retry_every: int = 10, work: Path | None = None
) -> Outcome:
    """Kill ``name`` ``iterations`` times at random points; check after each; retry periodically."""
    started = time.monotonic()
    rng = random.Random(seed)
    outcome = Outcome(name)
    own = work is None
    work = Path(tempfile.mkdtemp(prefix=f"ocre-crash-{name}-")) if work is None else work
    work.mkdir(parents=True, exist_ok=True)
    env = {"OCRE_HOME": str(work / "home"), "OCRE_CACHE_DIR": str(work / "cache")}
    op = OPERATIONS[name](name, work, env)
    try:
        with _environment(env):
            op.setup()
            # Calibrate: runs to completion give the window the kills are drawn from (the first
            # warms caches, so the faster of two counts); the window then follows completed runs.
            durations = []
            for warm in (10_000, 10_001):
                op.iteration = warm
                op.before()
                _, code, ran = _fork_run(op, None)
                if code != 0:
                    raise RuntimeError(f"{name}: calibration run failed ({code}): {_child_error(work)}")
                durations.append(ran)
            took = min(durations)
            for i in range(iterations):
                op.iteration = i
                op.before()
                killed, code, ran = _fork_run(op, rng.uniform(0.0, took * 1.2))
                outcome.iterations += 1
                if killed:
                    outcome.killed += 1
                elif code == 0:
                    outcome.completed += 1
                    took = 0.7 * took + 0.3 * ran  # track the real duration (caches warm, load changes)
                    durations.append(ran)
                else:
                    outcome.problems.append(f"iteration {i}: exit {code}: {_child_error(work)}")
                    outcome.retry_failed += 1
                problems = _safe(op.check)  # a check that raises is a finding too
                if problems:
                    outcome.invalid += 1
                    outcome.problems += [f"iteration {i} (killed={killed}): {p}" for p in problems]
                if (i + 1) % retry_every == 0 or i == iterations - 1:
                    killed, code, ran = _fork_run(op, None)
                    if code == 0:
                        took = 0.7 * took + 0.3 * ran
                        durations.append(ran)
                    retry_problems = [] if code == 0 else [f"exit {code}: {_child_error(work)}"]
                    if code == 0:
                        retry_problems += _safe(op.verify_done)
                    if retry_problems:
                        outcome.retry_failed += 1
                        outcome.problems += [f"retry after iteration {i}: {p}" for p in retry_problems]
            outcome.op_ms = round(statistics.median(durations) * 1000, 1)
            if isinstance(op, DaemonChurn):
                outcome.orphans = op.orphans_seen
            outcome.debris_repaired, left = _final_repair(op)
            outcome.problems += left
            outcome.invalid += bool(left)
    finally:
        op.close()
        if own:
            shutil.rmtree(work, ignore_errors=True)
    outcome.seconds = round(time.monotonic() - started, 1)
    return outcome


def _final_repair(op: Operation) -> tuple[int | None, list[str]]:
    """Run the doctor's repair over what all the kills left; afterwards nothing may be left to fix."""
    from ocre_py.doctor import diagnose

    root = op.doctor_root()
    if root is None:
        return None, []
    repaired = diagnose(root, repair=True)
    again = diagnose(root)
    left = [f"after doctor --repair: {f.path}: {f.problem}" for f in again.unrepaired]
    return sum(1 for f in repaired.findings if f.repaired), left


def _safe(fn: Callable[[], list[str]]) -> list[str]:
    try:
        return fn()
    except Exception as exc:
        return [f"{type(exc).__name__}: {exc}"]


def _child_error(work: Path) -> str:
    p = work / "child-error.txt"
    return p.read_text().strip() if p.exists() else "(no exception recorded)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(*argv[1:4])
    parser = argparse.ArgumentParser(prog="python -m fuzz.crashkill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200, help="kills per operation (default 200)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time based)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/reliability.md")
    parser.add_argument("operations", nargs="*", help=f"default all: {', '.join(OPERATIONS)}")
    args = parser.parse_args(argv)
    names = args.operations or list(OPERATIONS)
    unknown = [n for n in names if n not in OPERATIONS]
    if unknown:
        parser.error(f"unknown operation(s) {', '.join(unknown)}; known: {', '.join(OPERATIONS)}")
    seed = args.seed if args.seed is not None else int(time.time())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "crash.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    bad = 0
    for name in names:
        out = run_operation(name, args.iterations, seed=seed)
        record = out.to_dict() | {"seed": seed, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        record["problems"] = record["problems"][:50]
        results[name] = record
        path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(
            f"{name}: {out.iterations} kills ({out.killed} mid-way, {out.completed} completed), "
            f"{out.invalid} invalid, {out.retry_failed} failed retries, op {out.op_ms} ms, {out.seconds} s",
            flush=True,
        )
        for p in out.problems[:10]:
            print("   ", p, flush=True)
        bad += bool(out.invalid or out.retry_failed)
    if not args.no_report:
        write_report()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
