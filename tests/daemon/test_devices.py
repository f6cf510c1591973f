"""Simulated GPIO and sensors of a running daemon, read and driven from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from ocre_py.daemon import Daemon

from .conftest import wait_until


def test_gpio_follows_blinky(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    ocre_cli("run", "-d", "-n", "blink", "-k", "ocre:api", examples["blinky"], "0", "40")
    wait_until(lambda: "blink 2" in daemon.logs("blink").read_from(0)[0].decode(), 10, "two blinks")
    pins = json.loads(ocre_cli("device", "gpio", "ls", "--json").out)
    assert pins[0] | {"level": None} == {
        "port": 0,
        "pin": 0,
        "alias": "led0",
        "direction": "output",
        "level": None,
    }
    table = ocre_cli("device", "gpio", "ls").out.splitlines()
    assert table[0].split() == ["PORT", "PIN", "ALIAS", "DIRECTION", "LEVEL"]
    assert ocre_cli("device", "gpio", "get", "led0").out in ("0\n", "1\n")
    assert ocre_cli("device", "gpio", "set", "1.0", "0").code == 0
    r = ocre_cli("device", "gpio", "set", "9.0", "1")
    assert r.code == 2 and "no GPIO pin 9.0" in r.err
    r = ocre_cli("device", "gpio", "get", "led7")
    assert r.code == 2 and "GPIO pin 'led7': expected an alias" in r.err
    ocre_cli("kill", "blink")


def test_sensor_pinned_value_reaches_container(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    sensors = json.loads(ocre_cli("device", "sensor", "ls", "--json").out)
    rng = next(s for s in sensors if s["name"] == "rng")
    channel = rng["channels"][0]
    assert ocre_cli("device", "sensor", "set", "rng", str(channel), "42").code == 0
    assert "rng" in ocre_cli("device", "sensor", "ls").out
    cid = ocre_cli("run", "-d", examples["sensor"], "2").out.strip()
    assert ocre_cli("wait", cid).out == "0\n"
    logs = ocre_cli("logs", cid).out
    assert "rng reading 0: 42.000" in logs and "rng reading 1: 42.000" in logs
    assert ocre_cli("device", "sensor", "unset", "rng", str(channel)).code == 0
    r = ocre_cli("device", "sensor", "set", "nosuch", "0", "1")
    assert r.code == 2 and "no sensor channel nosuch:0" in r.err
