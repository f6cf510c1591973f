"""The serial monitor over a real pty pair: lines, timestamps, log file, exit regex, reconnect."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.zephyr.emulate.monitor import Monitor


def _pty() -> tuple[int, str]:
    master, slave = os.openpty()
    name = os.ttyname(slave)
    os.close(slave)  # the monitor opens it by name, as it would /dev/ttyACM0
    return master, name


def _feed(master: int, chunks: list[bytes], delay: float = 0.2) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        for c in chunks:
            os.write(master, c)
            time.sleep(0.05)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_lines_until_exit_regex_with_log_and_timestamps(tmp_path: Path) -> None:
    master, port = _pty()
    seen: list[str] = []
    _feed(master, [b"*** Booting Zephyr ***\r\n", b"hello from", b" a container\r\n", b"powered by Ocre\r\n"])
    m = Monitor(port, exit_on="powered by Ocre", timeout=10, timestamps=True, log_file=tmp_path / "c.log",
                on_line=seen.append)  # fmt: skip
    result = m.run()
    os.close(master)
    assert result.matched and result.reason == "matched 'powered by Ocre'"
    assert [s.split("] ", 1)[1] for s in seen] == [
        "*** Booting Zephyr ***",
        "hello from a container",
        "powered by Ocre",
    ]
    assert all(s.startswith("[") and s[3] == ":" for s in seen)
    assert (tmp_path / "c.log").read_text().splitlines() == seen


def test_timeout_without_match(tmp_path: Path) -> None:
    master, port = _pty()
    result = Monitor(port, exit_on="never", timeout=0.5).run()
    os.close(master)
    assert not result.matched and result.reason == "timeout after 0.5 s"


def test_reconnects_when_the_port_comes_back(tmp_path: Path) -> None:
    """A board reset re-enumerates its USB port: same path, new device. Modelled with a symlink."""
    link = tmp_path / "ttyACM0"
    master1, port1 = _pty()
    link.symlink_to(port1)
    seen: list[str] = []
    m = Monitor(str(link), exit_on="after reset", timeout=10, on_line=seen.append)

    def reset() -> None:
        time.sleep(0.3)
        os.write(master1, b"before reset\n")
        time.sleep(0.3)
        os.close(master1)  # the device goes away: reads fail with EIO
        link.unlink()
        time.sleep(0.3)
        master2, port2 = _pty()
        link.symlink_to(port2)
        time.sleep(0.5)
        os.write(master2, b"after reset\n")
        time.sleep(1)
        os.close(master2)

    t = threading.Thread(target=reset, daemon=True)
    t.start()
    result = m.run()
    t.join()
    assert result.matched, (result, seen)
    assert seen == ["before reset", "after reset"]
    assert result.reconnects == 1


def test_bad_regex_is_input_error() -> None:
    with pytest.raises(InvalidInput, match="--exit-on '\\(': expected a valid regular expression"):
        Monitor("/dev/null", exit_on="(")


def test_cli_monitor_over_pty(zephyr_cli, tmp_path: Path) -> None:
    master, port = _pty()
    _feed(master, [b"line one\n", b"ready\n"], delay=0.5)
    r = zephyr_cli(
        "monitor",
        port,
        "-b",
        "nucleo_u585",
        "--baud",
        "115200",
        "--exit-on",
        "ready",
        "--timeout",
        "10",
        "--log",
        tmp_path / "l",
    )
    os.close(master)
    assert r.code == 0, r.err
    assert r.out.splitlines() == ["line one", "ready"]


def test_cli_monitor_timeout_is_failure(zephyr_cli) -> None:
    master, port = _pty()
    r = zephyr_cli("monitor", port, "--exit-on", "ready", "--timeout", "0.5")
    os.close(master)
    assert r.code == 1 and "timeout after 0.5 s" in r.err


def test_cli_list_ports_json(zephyr_cli) -> None:
    import json

    r = zephyr_cli("monitor", "--list-ports", "--json")
    assert r.code == 0 and isinstance(json.loads(r.out), list)


def test_port_detection_prefers_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from serial.tools import list_ports

    from ocre_py.errors import NotFound
    from ocre_py.zephyr.emulate import monitor

    ports = [
        SimpleNamespace(device="/dev/ttyS0", vid=None),
        SimpleNamespace(device="/dev/ttyUSB0", vid=0x1234),
        SimpleNamespace(device="/dev/ttyACM0", vid=0x0483),  # ST-LINK virtual COM port
    ]
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    assert monitor.detect_ports() == ["/dev/ttyACM0", "/dev/ttyUSB0"]
    assert monitor.choose_port(None) == "/dev/ttyACM0"
    assert monitor.choose_port("/dev/null") == "/dev/null"
    assert monitor.choose_port("rfc2217://board:2217") == "rfc2217://board:2217", "URLs are not paths"
    with pytest.raises(NotFound, match="serial port /dev/ttyX does not exist"):
        monitor.choose_port("/dev/ttyX")
    monkeypatch.setattr(list_ports, "comports", lambda: [ports[0]])
    with pytest.raises(NotFound, match="no serial port found"):
        monitor.choose_port(None)


def test_cli_monitor_missing_port_fails_fast_in_one_line(zephyr_cli) -> None:
    r = zephyr_cli("monitor", "/dev/ttyNOPE", "--exit-on", "ready")
    assert r.code == 1 and r.err.startswith("ocre: error: serial port /dev/ttyNOPE does not exist\n"), r.err


def test_cli_monitor_b_is_the_board(zephyr_cli) -> None:
    r = zephyr_cli("monitor", "-b", "nucleo_u58", "/dev/ttyNOPE")
    assert r.code == 1 and "unknown board 'nucleo_u58' (did you mean 'nucleo_u585'?)" in r.err, r.err
    assert zephyr_cli("monitor", "--baud", "fast").code == 2
