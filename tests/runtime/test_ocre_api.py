"""The Ocre env ABI on the Linux runtime, exercised by real containers (spec sections 2–4, 9)."""

from __future__ import annotations

import time
from pathlib import Path

from ocre_py.runtime import ContainerSpec, Runtime


def test_timers_one_shot_periodic_remaining_and_errors(runtime: Runtime, start, probe: Path) -> None:
    run = start(probe, "timers", caps=["ocre:api"])
    assert runtime.wait(run.container.id, timeout=20) == 0
    v = run.values()
    assert v["create0"] == "-22" and v["create17"] == "-22", "timer IDs are 1..16"
    assert v["create1"] == "0" and v["create1again"] == "-16", "a second create of one ID is -EBUSY"
    assert v["start_unknown"] == "-22" and v["start_bad_interval"] == "-22"
    assert v["remaining_ok"] == "1"
    assert v["fires1"] == "1", "a one-shot timer fires exactly once"
    assert v["fires2_ge4"] == "1", "a 60 ms periodic timer fired at least 4 times in 450 ms"
    assert v["remaining_after_oneshot"] == "0"
    assert int(v["fires2_after_stop_delta"]) <= 1, "only an event queued before stop may still arrive"
    assert v["delete2"] == "0" and v["delete2again"] == "-22"


def test_timer_ids_are_per_container(runtime: Runtime, start, probe: Path) -> None:
    a = start(probe, "timers", caps=["ocre:api"])
    b = start(probe, "timers", caps=["ocre:api"])
    for run in (a, b):
        assert runtime.wait(run.container.id, timeout=20) == 0
        assert run.values()["create1"] == "0", "both containers own their own timer 1 (D2)"
        assert run.values()["fires1"] == "1"


def test_get_event_empty_bad_pointer_and_dispatcher_rules(runtime: Runtime, start, probe: Path) -> None:
    run = start(probe, "events", caps=["ocre:api"])
    assert runtime.wait(run.container.id, timeout=10) == 0
    v = run.values()
    assert v["empty"] == "-42", "-ENOMSG on an empty queue"
    assert v["badptr"] == "-22", "an out-pointer outside memory is -EINVAL"
    assert v["dispatcher_missing"] == "-22" and v["dispatcher_ok"] == "0"


def test_dispatcher_registration_needs_ocre_api(runtime: Runtime, start, probe: Path) -> None:
    run = start(probe, "events")
    assert runtime.wait(run.container.id, timeout=10) == 0
    assert run.values()["dispatcher_ok"] == "-22"


def test_publish_without_subscribers_and_bad_arguments(runtime: Runtime, start, probe: Path) -> None:
    run = start(probe, "publish", "nobody/listens", "1", caps=["ocre:api"])
    assert runtime.wait(run.container.id, timeout=10) == 0
    v = run.values()
    assert v["publish0"] == "-2", "no subscriber is -ENOENT"
    assert v["publish_empty_topic"] == "-22" and v["publish_zero_len"] == "-22"


def test_prefix_subscription_across_containers_and_shared_message_ids(
    runtime: Runtime, start, probe: Path
) -> None:
    seen: list = []
    runtime.subscribe("sensor/", seen.append)
    sub1 = start(probe, "subscribe", "sensor/", "3", caps=["ocre:api"])
    sub2 = start(probe, "subscribe", "sensor/temp", "3", caps=["ocre:api"])
    other = start(probe, "subscribe", "actuator/", "1", caps=["ocre:api"])
    for run in (sub1, sub2, other):
        run.wait_for("ready")
    pub = start(probe, "publish", "sensor/temperature", "3", caps=["ocre:api"])
    assert runtime.wait(pub.container.id, timeout=10) == 0
    assert [pub.values()[f"publish{i}"] for i in range(3)] == ["0", "0", "0"]
    for run in (sub1, sub2):
        assert runtime.wait(run.container.id, timeout=10) == 0
        assert run.values()["subscribe"] == "0" and run.values()["subscribe_again"] == "0"
        assert run.values()["subscribe_empty"] == "-22"
        assert "msg topic=sensor/temperature ctype=text/plain payload=m2" in run.out
        assert run.values()["messages"] == "3"
    assert "msg topic" not in other.out, "a non-matching prefix receives nothing"
    runtime.kill(other.container.id)
    ids = [m.message_id for m in seen]
    assert len(ids) == 3 and len(set(ids)) == 3, "one ID per publish, shared by all its recipients"


def test_publisher_receives_its_own_message(runtime: Runtime, start, probe: Path) -> None:
    run = start(probe, "self", caps=["ocre:api"])
    assert runtime.wait(run.container.id, timeout=10) == 0
    assert "messages=1 payload=ping" in run.out


def test_subscribe_needs_ocre_api(runtime: Runtime, start, probe: Path) -> None:
    run = start(probe, "subscribe", "x/", "0")
    assert runtime.wait(run.container.id, timeout=10) == 0
    assert run.values()["subscribe"] == "-1", "-EPERM without the ocre:api capability"


def test_message_copies_are_freed_so_many_messages_fit(runtime: Runtime, start, probe: Path) -> None:
    """200 messages through the SDK's copy-then-free path: no leak exhausts the region."""
    sub = start(probe, "subscribe", "bulk/", "200", caps=["ocre:api"])
    sub.wait_for("ready")
    for i in range(200):
        while runtime.publish("bulk/x", f"payload-{i}".encode()) != 0:
            time.sleep(0.005)  # queue full (32 events): the publisher gets -EBUSY and retries
    assert runtime.wait(sub.container.id, timeout=60) == 0
    assert sub.values()["messages"] == "200"
    assert sub.container.exit_code == 0


def test_host_region_serves_modules_without_malloc_exports(
    runtime: Runtime, start, build_test_container
) -> None:
    """Upstream-SDK-style modules (no malloc/free exports) get copies in an appended host page."""
    module = build_test_container("api_probe", export_allocator=False)
    sub = start(module, "subscribe", "r/", "40", caps=["ocre:api"])
    sub.wait_for("ready")
    for i in range(40):
        while runtime.publish("r/x", b"y" * 1000 + str(i).encode()) != 0:
            time.sleep(0.005)
    assert runtime.wait(sub.container.id, timeout=30) == 0
    assert sub.values()["messages"] == "40"


def test_imported_memory_module_messaging(runtime: Runtime, start, build_test_container) -> None:
    """The SDK's --import-memory --export-memory style: the host creates env.memory from the import."""
    module = build_test_container("api_probe", import_memory=True, memory_max=4 * 1024 * 1024)
    sub = start(module, "self", caps=["ocre:api"])
    assert runtime.wait(sub.container.id, timeout=10) == 0
    assert "messages=1 payload=ping" in sub.out


def test_gpio_input_events_and_led_output(runtime: Runtime, start, probe: Path, examples) -> None:
    run = start(probe, "gpio", "3000", caps=["ocre:api"])
    run.wait_for("ready")
    v = run.values()
    assert v["bad_port"] == "-22" and v["bad_alias"] == "-22"
    assert v["configure"] == "0" and v["level"] == "1", "inputs idle high (pull-up)"
    runtime.devices.gpio.drive_input(1, 0, 0)  # press sw0 (port 1 pin 0)
    run.wait_for("gpio event 1 level=0")
    runtime.devices.gpio.drive_input(1, 0, 1)
    run.wait_for("gpio event 2 level=1")
    runtime.kill(run.container.id)
    blink = start(examples["blinky"], "3", "50", caps=["ocre:api"])
    assert runtime.wait(blink.container.id, timeout=10) == 0
    led = next(p for p in runtime.devices.gpio.snapshot() if p["alias"] == "led0")
    assert led == {"port": 0, "pin": 0, "alias": "led0", "direction": "output", "level": 1}


def test_sensor_readings_are_seeded_and_reproducible(tmp_path: Path, probe: Path) -> None:
    outputs = []
    for n in range(2):
        with Runtime(tmp_path / f"wd{n}") as rt:
            out = tmp_path / f"s{n}.txt"
            c = rt.create(ContainerSpec(image="p", module_path=probe, args=("sensors",), stdout=out))
            rt.start(c.id)
            assert rt.wait(c.id, timeout=10) == 0
            outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    assert "count=6 handle=0" in outputs[0] and "bad=-22" in outputs[0]
    temp = float(outputs[0].split("temp=")[1].split()[0])
    assert 20.9 <= temp <= 22.1


def test_uname_writes_the_sdk_layout(runtime: Runtime, start, probe: Path) -> None:
    run = start(probe, "uname")
    assert runtime.wait(run.container.id, timeout=10) == 0
    v = run.values()
    assert v["rc"] == "0" and v["sysname"].startswith("Project Ocre (")
    assert v["release"].startswith("1.0.0 (") and v["nodename_empty"] == "1" and v["terminated"] == "1"
    assert v["too_small"] == "-22", "390 bytes that run past the end of memory are -EINVAL (D8)"


def test_string_pointer_outside_memory_traps(runtime: Runtime, start, probe: Path) -> None:
    run = start(probe, "badstring", caps=["ocre:api"])
    assert runtime.wait(run.container.id, timeout=10) == 134
    assert "out of bounds memory access: topic 0xffffff00" in run.out


def test_unresolved_import_traps_only_when_called(runtime: Runtime, start, misbehave: Path) -> None:
    run = start(misbehave, "unresolved")
    assert runtime.wait(run.container.id, timeout=10) == 134
    assert "calling an import nobody provides" in run.out, "instantiation succeeded despite the import"
    assert "trapped: unresolved import env.ocre_msg_system_init" in run.out
    assert run.container.unresolved_imports == ["env.ocre_msg_system_init"]
