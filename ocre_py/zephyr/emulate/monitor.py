"""A serial console for boards: auto-detected port, reconnect across resets, timestamps, log, exit regex.

west has no monitor, and ``pyserial``'s miniterm neither reconnects when a board's USB CDC/ST-LINK
port disappears during a reset nor stops on a pattern, which is what scripts and CI need. The
library only reads lines and hands them to ``on_line``; the CLI decides how to show them. The port
opener is injectable (``opener=``) so tests can use a pty pair or fakes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ocre_py.errors import DeployError, InvalidInput, NotFound

log = logging.getLogger(__name__)

#: USB vendor IDs of debug probes and USB-serial bridges boards expose their console through.
PROBE_VENDORS = {
    0x0483: "ST-LINK",
    0x1366: "SEGGER J-Link",
    0x0D28: "DAPLink",
    0x0403: "FTDI",
    0x10C4: "CP210x",
    0x1A86: "WCH",
    0x2E8A: "Raspberry Pi",
}


@dataclass(frozen=True)
class MonitorResult:
    """How a monitor session ended: ``matched`` the exit regex, timed out, or stopped."""

    port: str
    matched: bool
    lines: int
    reconnects: int
    seconds: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_ports() -> list[str]:
    """Serial ports that look like a board's console, best first (probe vendors before others)."""
    from serial.tools import list_ports

    ports = list(list_ports.comports())
    known = [p.device for p in ports if p.vid in PROBE_VENDORS]
    usb = [p.device for p in ports if p.vid is not None and p.device not in known]
    return known + usb


def choose_port(port: str | None) -> str:
    """``port``, checked to exist when it is a device path (fail fast), else the best detected one."""
    if port:
        if port.startswith("/") and not Path(port).exists():
            raise NotFound(f"serial port {port} does not exist", hint="'--list-ports' lists candidates")
        return port
    ports = detect_ports()
    if not ports:
        raise NotFound(
            "no serial port found for a board", hint="connect the board or pass the port, e.g. /dev/ttyACM0"
        )
    if len(ports) > 1:
        log.warning("several serial ports found (%s); using %s", ", ".join(ports), ports[0])
    return ports[0]


def _default_opener(port: str, baud: int) -> Any:
    import serial

    return serial.serial_for_url(port, baudrate=baud, timeout=0.1)


class Monitor:
    """Read lines from ``port`` until ``exit_on`` matches, ``timeout`` passes, or :meth:`stop`."""

    def __init__(
        self,
        port: str,
        baud: int = 115200,
        *,
        exit_on: str | None = None,
        timeout: float | None = None,
        timestamps: bool = False,
        log_file: str | Path | None = None,
        reconnect: bool = True,
        on_line: Callable[[str], None] | None = None,
        opener: Callable[[str, int], Any] = _default_opener,
    ) -> None:
        if baud <= 0:
            raise InvalidInput.field(None, "baud", baud, "a positive baud rate such as 115200")
        try:
            self.exit_re = re.compile(exit_on) if exit_on else None
        except re.error as exc:
            raise InvalidInput.field(
                None, "--exit-on", exit_on, f"a valid regular expression ({exc})"
            ) from None
        self.port, self.baud, self.timeout = port, baud, timeout
        self.timestamps, self.reconnect = timestamps, reconnect
        self.log_file = Path(log_file) if log_file else None
        self.on_line = on_line
        self.opener = opener
        self._stop = False

    def stop(self) -> None:
        self._stop = True

    def _open(self, deadline: float | None, first: bool) -> Any:
        import serial

        while True:
            try:
                return self.opener(self.port, self.baud)
            except (serial.SerialException, OSError) as exc:
                if first and not self.reconnect:
                    raise DeployError(f"cannot open {self.port}: {exc}") from None
                if (deadline is not None and time.monotonic() > deadline) or self._stop:
                    return None
                time.sleep(0.1)

    def _format(self, line: str) -> str:
        if self.timestamps:
            return f"[{datetime.now().strftime('%H:%M:%S.%f')[:-3]}] {line}"
        return line

    def run(self) -> MonitorResult:
        import serial

        started = time.monotonic()
        deadline = None if self.timeout is None else started + self.timeout
        lines = reconnects = 0
        buf = b""
        logfh: TextIO | None = self.log_file.open("a", encoding="utf-8") if self.log_file else None
        conn = self._open(deadline, first=True)
        reason = "stopped"
        matched = False
        try:
            while conn is not None and not self._stop:
                if deadline is not None and time.monotonic() > deadline:
                    reason = f"timeout after {self.timeout:g} s"
                    break
                try:
                    chunk = conn.read(256)
                except (serial.SerialException, OSError) as exc:
                    conn.close()
                    if not self.reconnect:
                        reason = f"port closed: {exc}"
                        break
                    log.info("%s went away (%s); waiting for it to come back", self.port, exc)
                    conn = self._open(deadline, first=False)
                    if conn is not None:
                        reconnects += 1
                        log.info("reconnected to %s", self.port)
                    continue
                if not chunk:
                    continue
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode("utf-8", errors="replace").rstrip("\r")
                    lines += 1
                    shown = self._format(line)
                    if self.on_line:
                        self.on_line(shown)
                    if logfh:
                        logfh.write(shown + "\n")
                        logfh.flush()
                    if self.exit_re and self.exit_re.search(line):
                        matched = True
                        reason = f"matched '{self.exit_re.pattern}'"
                        break
                if matched:
                    break
            if conn is None and not matched and reason == "stopped":
                reason = (
                    f"timeout after {self.timeout:g} s waiting for {self.port}" if self.timeout else reason
                )
        finally:
            if conn is not None:
                conn.close()
            if logfh:
                logfh.close()
        return MonitorResult(
            self.port, matched, lines, reconnects, round(time.monotonic() - started, 3), reason
        )
