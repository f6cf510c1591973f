"""Container lifecycle, names, mounts, storage and isolation (spec sections 5, 6, 8, 9)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ocre_py.errors import Conflict, ContainerError, InvalidInput, NotFound
from ocre_py.runtime import ContainerSpec, ContainerState, Mount, Runtime

S = ContainerState


def spec_for(module: Path, *args: str, **kw: object) -> ContainerSpec:
    return ContainerSpec(image=module.name, module_path=module, args=args, stdout=None, stderr=None, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", ".", "..", "/", "/somewhere", "some/where", "Upper", ".hidden"])
def test_bad_image_and_container_names_are_rejected(runtime: Runtime, bad: str, examples) -> None:
    with pytest.raises(InvalidInput):
        runtime.create(ContainerSpec(image=bad))
    with pytest.raises(InvalidInput):
        runtime.create(spec_for(examples["hello"], name=bad))


@pytest.mark.parametrize("bad", ["no-colon", "no_abs_path:/hello", "/tmp:no_abs", "/tmp:", "/tmp"])
def test_bad_mounts_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidInput, match="mount"):
        Mount.parse(bad)


def test_runtime_names(runtime: Runtime, examples) -> None:
    for bad in ("does-not-exit", ""):
        with pytest.raises(InvalidInput, match="runtime"):
            runtime.create(spec_for(examples["hello"]), runtime=bad)
    assert runtime.create(spec_for(examples["hello"]), runtime="wasmtime/wasip1").state is S.CREATED


def test_unknown_capability_is_rejected(runtime: Runtime, examples) -> None:
    with pytest.raises(InvalidInput, match="capability 'ocre:everything'"):
        runtime.create(spec_for(examples["hello"], capabilities=("ocre:everything",)))


def test_create_count_lookup_and_remove(runtime: Runtime, examples) -> None:
    assert len(runtime) == 0
    a = runtime.create(spec_for(examples["hello"], name="test-container"))
    assert a.id == "test-container" and a.state is S.CREATED and a.spec.detached is False
    with pytest.raises(Conflict):
        runtime.create(spec_for(examples["hello"], name="test-container"))
    b = runtime.create(spec_for(examples["hello"], detached=True))
    assert len(b.id) == 7 and all(ch in "0123456789abcdef" for ch in b.id) and b.spec.detached
    assert len(runtime) == 2 and runtime.get(b.id) is b
    runtime.remove(a.id)
    assert len(runtime) == 1
    runtime.remove(b.id)
    assert len(runtime) == 0
    assert runtime.status("nope") is S.UNKNOWN
    with pytest.raises(NotFound):
        runtime.get("nope")


def test_image_by_name_from_the_workdir_and_missing_files(runtime: Runtime, examples) -> None:
    (runtime.images_dir / "hello.wasm").write_bytes(examples["hello"].read_bytes())
    c = runtime.create(ContainerSpec(image="hello.wasm", stdout=None))
    assert c.argv[0] == str(runtime.images_dir / "hello.wasm"), "argv[0] is the image path"
    runtime.start(c.id)
    assert runtime.wait(c.id, timeout=10) == 0
    with pytest.raises(InvalidInput, match=r"existing \.wasm"):
        runtime.create(ContainerSpec(image="missing.wasm"))


def test_hello_exits_0_and_restarts(runtime: Runtime, examples) -> None:
    c = runtime.create(spec_for(examples["hello"]))
    with pytest.raises(Conflict):
        runtime.wait(c.id)  # CREATED: nothing to wait for
    for _ in range(3):
        runtime.start(c.id)
        assert runtime.wait(c.id, timeout=10) == 0
        assert runtime.status(c.id) is S.STOPPED
    assert c.restart_count == 2


def test_blinky_without_ocre_api_exits_minus_one(runtime: Runtime, examples) -> None:
    c = runtime.create(spec_for(examples["blinky"], detached=True))
    runtime.start(c.id)
    assert runtime.wait(c.id, timeout=10) == -1
    assert runtime.status(c.id) is S.STOPPED
    with pytest.raises(Conflict):
        runtime.kill(c.id)


def test_kill_blinky_reports_137_and_interrupts_sleep_fast(runtime: Runtime, examples) -> None:
    c = runtime.create(spec_for(examples["blinky"], capabilities=("ocre:api",)))
    runtime.start(c.id)
    time.sleep(0.3)
    assert runtime.status(c.id) is S.RUNNING
    t0 = time.monotonic()
    runtime.kill(c.id)
    assert runtime.wait(c.id, timeout=5) == 137
    assert time.monotonic() - t0 < 0.1, "kill interrupts a container blocked in ocre_sleep within 100 ms"
    assert runtime.status(c.id) is S.STOPPED
    assert c.image == "blinky.wasm"


def test_kill_interrupts_a_long_ocre_sleep(runtime: Runtime, start, misbehave: Path) -> None:
    run = start(misbehave, "sleep", "100000")
    run.wait_for("sleeping")
    t0 = time.monotonic()
    runtime.kill(run.container.id)
    assert runtime.wait(run.container.id, timeout=5) == 137
    assert time.monotonic() - t0 < 0.1


def test_kill_interrupts_a_compute_loop(runtime: Runtime, start, misbehave: Path) -> None:
    run = start(misbehave, "spin")
    run.wait_for("spinning")
    t0 = time.monotonic()
    runtime.kill(run.container.id)
    assert runtime.wait(run.container.id, timeout=5) == 137
    assert time.monotonic() - t0 < 0.1


def test_kill_interrupts_a_blocking_stdin_read(runtime: Runtime, tmp_path: Path, cat: Path) -> None:
    read_fd, write_fd = os.pipe()
    saved = os.dup(0)
    os.dup2(read_fd, 0)
    try:
        out = tmp_path / "cat.txt"
        c = runtime.create(ContainerSpec(image="cat", module_path=cat, stdin="inherit", stdout=out))
        runtime.start(c.id)
        os.write(write_fd, b"hello through stdin\n")
        deadline = time.monotonic() + 5
        while "hello through stdin" not in (out.read_text() if out.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.05)  # cat is now blocked in fd_read
        t0 = time.monotonic()
        runtime.kill(c.id)
        assert runtime.wait(c.id, timeout=5) == 137
        assert time.monotonic() - t0 < 0.1, "kill interrupts a read from stdin within 100 ms"
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(write_fd)
        os.close(read_fd)


def test_trap_in_one_container_does_not_disturb_another(runtime: Runtime, start, misbehave, examples) -> None:
    blink = start(examples["blinky"], "0", "20", caps=["ocre:api"])
    blink.wait_for("blink 2")
    for mode in ("trap", "divzero", "recurse"):
        bad = start(misbehave, mode)
        assert runtime.wait(bad.container.id, timeout=10) == 134
        assert "trapped: wasm trap:" in bad.out, bad.out
        assert bad.container.error and bad.container.error.startswith("wasm trap:")
    before = blink.out.count("blink")
    time.sleep(0.2)
    assert blink.out.count("blink") > before, "the other container kept running"
    assert runtime.status(blink.container.id) is S.RUNNING
    runtime.kill(blink.container.id)


def test_pause_holds_and_unpause_resumes(runtime: Runtime, start, examples) -> None:
    run = start(examples["blinky"], "0", "20", caps=["ocre:api"])
    run.wait_for("blink 2")
    runtime.pause(run.container.id)
    assert runtime.status(run.container.id) is S.PAUSED
    time.sleep(0.1)
    held = run.out.count("blink")
    time.sleep(0.3)
    assert run.out.count("blink") == held, "a paused container makes no progress"
    with pytest.raises(Conflict):
        runtime.pause(run.container.id)
    runtime.unpause(run.container.id)
    time.sleep(0.3)
    assert run.out.count("blink") > held
    runtime.kill(run.container.id)
    assert runtime.wait(run.container.id, timeout=5) == 137


def test_stop_is_graceful_first(runtime: Runtime, start, misbehave: Path) -> None:
    run = start(misbehave, "sleeploop")
    run.wait_for("looping")
    runtime.stop(run.container.id, grace=5)
    assert run.container.exit_code == 7, "the container saw the stop (-EINTR from ocre_sleep) and exited"
    spin = start(misbehave, "spin")
    spin.wait_for("spinning")
    t0 = time.monotonic()
    runtime.stop(spin.container.id, grace=0.2)
    assert spin.container.exit_code == 137 and time.monotonic() - t0 < 1.0


def test_transitions_that_must_fail(runtime: Runtime, examples) -> None:
    c = runtime.create(spec_for(examples["blinky"], capabilities=("ocre:api",)))
    for op in (runtime.kill, runtime.pause, runtime.unpause, runtime.stop):
        with pytest.raises(Conflict):
            op(c.id)
    runtime.start(c.id)
    with pytest.raises(Conflict):
        runtime.start(c.id)
    with pytest.raises(Conflict, match="stop it before removing"):
        runtime.remove(c.id)
    runtime.kill(c.id)
    runtime.wait(c.id, timeout=5)
    runtime.remove(c.id)


def test_instantiation_failure_is_error_state(runtime: Runtime, tmp_path: Path, examples) -> None:
    host = tmp_path / "vanishing"
    host.mkdir()
    c = runtime.create(spec_for(examples["hello"], mounts=(Mount(host, "/data"),)))
    host.rmdir()
    runtime.start(c.id)
    with pytest.raises(ContainerError, match="does not exist"):
        runtime.wait(c.id, timeout=5)
    assert runtime.status(c.id) is S.ERROR and "vanishing" in (c.error or "")
    runtime.remove(c.id)


def test_memory_limit_below_initial_memory_is_error(runtime: Runtime, examples) -> None:
    c = runtime.create(spec_for(examples["hello"], memory_limit=65536))
    runtime.start(c.id)
    with pytest.raises(ContainerError, match="failed to start"):
        runtime.wait(c.id, timeout=5)
    assert runtime.status(c.id) is S.ERROR


def test_filesystem_capability_and_mounts_persist(tmp_path: Path, examples) -> None:
    wd, out_dir = tmp_path / "wd", tmp_path / "out"
    out_dir.mkdir()
    for expected_run in (1, 2):
        with Runtime(wd) as rt:
            log = tmp_path / f"files{expected_run}.txt"
            spec = ContainerSpec(
                image="files.wasm", module_path=examples["files"], name="files", args=("/data",),
                capabilities=("filesystem",), mounts=(Mount(out_dir, "/data"),), stdout=log,
            )  # fmt: skip
            c = rt.create(spec)
            rt.start(c.id)
            assert rt.wait(c.id, timeout=10) == 0
            assert f"files: run {expected_run}" in log.read_text()
    assert (wd / "containers" / "files" / "runs.txt").read_text() == "2\n", "data dir survived a restart (D7)"
    assert (out_dir / "report.txt").read_text() == "files container, run 2\n", "HOST:GUEST mount (D5)"
    assert oct((wd / "containers" / "files").stat().st_mode & 0o777) == "0o755"
    with Runtime(wd) as rt:
        c = rt.create(ContainerSpec(image="files.wasm", module_path=examples["files"], name="files"))
        rt.remove(c.id)
    assert not (wd / "containers" / "files").exists(), "rm deletes the data dir"


def test_without_filesystem_capability_no_files(runtime: Runtime, start, examples) -> None:
    run = start(examples["files"])
    assert runtime.wait(run.container.id, timeout=10) == 1
    assert "cannot write /runs.txt" in run.out


def test_second_context_on_same_workdir_is_rejected(tmp_path: Path) -> None:
    with Runtime(tmp_path / "wd") as rt:
        assert (rt.workdir / "images").is_dir() and (rt.workdir / "containers").is_dir()
        with pytest.raises(Conflict, match="already in use"):
            Runtime(tmp_path / "wd")
        with Runtime(tmp_path / "other"):
            pass  # two contexts on different workdirs coexist
    Runtime(tmp_path / "wd").close()  # released on close


def test_close_kills_and_forgets_containers(tmp_path: Path, examples) -> None:
    rt = Runtime(tmp_path / "wd")
    c = rt.create(spec_for(examples["blinky"], capabilities=("ocre:api",)))
    rt.start(c.id)
    rt.close()
    assert c.wait_done(2) and c.exit_code == 137
    assert len(rt) == 0


def test_upstream_demo_sequence(runtime: Runtime, start, examples) -> None:
    """Upstream's CI demo, with our exit codes (D4): killed containers report 137."""
    hello = start(examples["hello"])
    assert runtime.wait(hello.container.id, timeout=10) == 0 and "powered by Ocre" in hello.out
    blinky = start(examples["blinky"], caps=["ocre:api"], detached=True)
    time.sleep(2)
    runtime.kill(blinky.container.id)
    assert runtime.wait(blinky.container.id, timeout=5) == 137 and "blink 3: LED on" in blinky.out
    sub = start(examples["subscriber"], caps=["ocre:api"], detached=True)
    sub.wait_for("waiting for sensor/")
    pub = start(examples["publisher"], "0", "200", caps=["ocre:api"], detached=True)
    time.sleep(4)
    for run in (sub, pub):
        runtime.kill(run.container.id)
        assert runtime.wait(run.container.id, timeout=5) == 137
    assert "published 1 (delivered)" in pub.out
    assert 'received sensor/temperature [application/json]: {"seq":1,' in sub.out
    assert sub.out.count("received") >= 10
