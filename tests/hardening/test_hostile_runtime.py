"""Hostile containers on the Linux runtime: each is stopped or refused cleanly, and the runtime and
its other containers keep running (issue 7, runtime part)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ocre_py.runtime import ContainerSpec, Mount, Runtime


@pytest.fixture(scope="session")
def hostile(build_test_container: Callable[..., Path]) -> Path:
    return build_test_container("hostile")


@pytest.fixture
def rt(tmp_path: Path):
    with Runtime(tmp_path / "wd") as runtime:
        yield runtime


def run(rt: Runtime, module: Path, *args: str, out: Path, **kw: object) -> dict[str, str]:
    c = rt.create(ContainerSpec(image="hostile", module_path=module, args=args, stdout=out, stderr=out, **kw))  # type: ignore[arg-type]
    rt.start(c.id)
    assert rt.wait(c.id, timeout=60) == 0, out.read_text()[-2000:]
    pairs = {}
    for line in out.read_text().split():
        key, sep, value = line.partition("=")
        if sep:
            pairs[key] = value
    return pairs


def test_wasi_path_escapes_stay_inside_the_mount(
    rt: Runtime, hostile: Path, tmp_path: Path, record: dict[str, Any]
) -> None:
    mount, outside = tmp_path / "mount", tmp_path / "outside"
    mount.mkdir()
    outside.mkdir()
    (mount / "inside.txt").write_text("fine\n")
    (outside / "secret.txt").write_text("secret\n")
    os.symlink(outside, mount / "link-out")
    os.symlink(outside / "secret.txt", mount / "link-file")
    v = run(rt, hostile, "escape", "/data", out=tmp_path / "o.txt", mounts=(Mount(mount, "/data"),))
    assert v["inside"] == "1", "the mount itself is readable"
    assert v == {"inside": "1", "dotdot": "0", "absolute": "0", "symlink_dir": "0", "symlink_file": "0"}
    record["WASI path escapes (`../`, absolute, symlinks out of a mount)"] = {
        "outcome": "every escape refused by the call; the mount stays readable"
    }


def test_filesystem_capability_cannot_escape_its_directory(
    rt: Runtime, hostile: Path, tmp_path: Path
) -> None:
    data = rt.containers_dir / "fsbox"
    data.mkdir(parents=True)
    (data / "inside.txt").write_text("ok\n")
    os.symlink("/etc", data / "link-out")
    v = run(rt, hostile, "escape", "", out=tmp_path / "o.txt", name="fsbox", capabilities=("filesystem",))
    assert v["inside"] == "1" and v["dotdot"] == "0" and v["symlink_dir"] == "0"


def test_fd_exhaustion_fails_the_call_not_the_runtime(
    rt: Runtime, hostile: Path, tmp_path: Path, record: dict[str, Any]
) -> None:
    mount = tmp_path / "m"
    mount.mkdir()
    (mount / "inside.txt").write_text("x")
    before = len(os.listdir("/proc/self/fd"))
    v = run(rt, hostile, "fds", "/data", out=tmp_path / "o.txt", mounts=(Mount(mount, "/data"),))
    assert v["opened_many"] == "1" and v["stdout_still_works"] == "1"
    time.sleep(0.1)
    after = len(os.listdir("/proc/self/fd"))
    assert after <= before + 2, "the container's descriptors were released"
    record["fd exhaustion (open until refused)"] = {
        "outcome": f"open fails in the guest, stdout still works; host fds {before} -> {after} after exit"
    }


def test_thousands_of_timers_are_bounded(
    rt: Runtime, hostile: Path, tmp_path: Path, record: dict[str, Any]
) -> None:
    t0 = time.monotonic()
    v = run(rt, hostile, "timers", out=tmp_path / "o.txt")
    assert v["timers_created"] == "16" and v["survived"] == "1"
    record["thousands of timers"] = {
        "outcome": "16 created, the rest refused; the container survives",
        "stop_ms": round((time.monotonic() - t0) * 1000, 1),
    }


def test_message_flood_hits_the_queue_bound_and_the_publisher_is_told(
    rt: Runtime, hostile: Path, tmp_path: Path, record: dict[str, Any]
) -> None:
    received: list = []
    handle = rt.subscribe("flood/", received.append)
    v = run(rt, hostile, "flood", "16", out=tmp_path / "o.txt")
    assert v["sent"] == "10000" and len(received) == 10000, "a host subscriber is a callback: no queue"
    rt.broker.unsubscribe_host(handle)
    slow = rt.create(
        ContainerSpec(image="slow", module_path=hostile, args=("timers",), capabilities=("ocre:api",))
    )
    rt.start(slow.id)
    session = None
    for _ in range(100):
        session = slow.session
        if session is not None:
            break
        time.sleep(0.01)
    assert session is not None
    rt.broker.subscribe(session, b"flood/")  # a container that subscribed but never polls
    v = run(rt, hostile, "flood", "16", out=tmp_path / "o2.txt")
    assert v["sent"] == "32" and v["last_rc"] == "-16", "queue of 32 full → -EBUSY to the publisher"
    v = run(rt, hostile, "flood", str(70 * 1024), out=tmp_path / "o3.txt")
    assert v["sent"] == "0" and v["last_rc"] == "-90", "oversized payload → -EMSGSIZE"
    rt.kill(slow.id)
    record["message flood to a subscriber that never polls"] = {
        "outcome": "32 queued (the bound), then -EBUSY to the publisher"
    }
    record["oversized payload (70 KiB)"] = {"outcome": "-EMSGSIZE to the publisher, nothing queued"}


def test_stdout_flood_to_a_file_does_not_disturb_others(
    rt: Runtime, hostile: Path, tmp_path: Path, examples, record: dict[str, Any]
) -> None:
    blink_out = tmp_path / "blink.txt"
    blink = rt.create(ContainerSpec(image="b", module_path=examples["blinky"], args=("0", "20"),
                                    capabilities=("ocre:api",), stdout=blink_out))  # fmt: skip
    rt.start(blink.id)
    t0 = time.monotonic()
    run(rt, hostile, "stdout", "16", out=tmp_path / "flood.txt")
    assert (tmp_path / "flood.txt").stat().st_size >= 16 * 1024 * 1023
    took = time.monotonic() - t0
    blinks = blink_out.read_text().count("blink")
    assert blinks >= int(took / 0.02 * 0.3)
    rt.kill(blink.id)
    record["stdout flood, 16 MiB to a file (bystander blinking)"] = {
        "outcome": f"written in {took:.2f} s; the bystander blinked {blinks} times meanwhile",
        "stop_ms": round(took * 1000, 1),
    }
