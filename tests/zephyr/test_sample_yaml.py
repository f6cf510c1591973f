"""zephyr_app/sample.yaml: twister keeps 64 KB boards out but not the integration platforms, and the
console regexes match what src/main.c really prints."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

APP = Path(__file__).resolve().parents[2] / "zephyr_app"
# `ram:` (KB) of each board's twister yaml as read in Zephyr; twister uses 128 when the key is absent.
TWISTER_RAM = {
    "native_sim/native/64": None,
    "mps2/an385": None,
    "mps2/an521/cpu0": 4096,
    "qemu_cortex_m3": 64,
}


def _sample() -> dict:
    return yaml.safe_load((APP / "sample.yaml").read_text())


def test_min_ram_admits_integration_platforms_and_refuses_64k():
    common = _sample()["common"]
    for board in common["integration_platforms"]:
        ram = TWISTER_RAM[board] or 128
        assert ram >= common["min_ram"], board
    assert TWISTER_RAM["qemu_cortex_m3"] < common["min_ram"]
    assert common["integration_platforms"] == ["native_sim/native/64", "mps2/an385", "mps2/an521/cpu0"]


def _printed_lines() -> list[str]:
    """main.c's status-line formats (its say() calls), filled with plausible values."""
    text = (APP / "src" / "main.c").read_text()
    formats = re.findall(r'say\("((?:[^"\\]|\\.)*)\\n"', text)
    values = {"%s": "hello", "%d": "0"}
    lines = []
    for fmt in formats:
        line = re.sub(r"%[sd]", lambda m: values[m.group(0)], fmt)
        line = line.replace("container hello hello with", "container hello stopped with")  # state name
        lines.append(line.replace("context ready on hello", "context ready on /lfs/ocre"))
    return lines


def test_boot_regexes_match_main_c_output():
    lines = _printed_lines()
    for regex in _sample()["tests"]["app.ocre.boot"]["harness_config"]["regex"]:
        assert any(re.search(regex, line) for line in lines), regex


def test_hello_regexes_match_main_c_output_for_a_hello_container():
    lines = [line.replace("(image hello)", "(image hello.wasm)") for line in _printed_lines()]
    lines.append("Hello, world")
    regexes = _sample()["tests"]["app.ocre.hello"]["harness_config"]["regex"]
    for regex in regexes:
        assert any(re.search(regex, line) for line in lines), regex
