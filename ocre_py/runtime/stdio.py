"""Container stdio: where fds 0/1/2 of a container go (spec 1.1: injectable per container).

A guest blocked reading stdin sits inside wasmtime's host code, out of reach of epochs. So when a
container reads the runtime's own stdin from a terminal or a pipe, it reads a pipe the runtime owns,
fed by a pump thread; a kill closes the pipe's write end and the read returns end-of-file at once.
A regular file needs no pump (reads never block forever).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

import wasmtime

from ocre_py.runtime.spec import StdioTarget


class StdinFeed:
    """A pipe fed from ``source_fd`` by a daemon thread; :meth:`close` delivers EOF to the reader."""

    def __init__(self, source_fd: int = 0) -> None:
        self._source = source_fd
        self.read_fd, self._write_fd = os.pipe()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._pump, name="ocre-stdin", daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self._source, 65536)
            except OSError:
                data = b""
            with self._lock:
                if self._closed:
                    return
                if not data:
                    self._close_locked()
                    return
                try:
                    os.write(self._write_fd, data)
                except OSError:
                    self._close_locked()
                    return

    def _close_locked(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._write_fd)

    def close(self) -> None:
        with self._lock:
            self._close_locked()


def _needs_pump(fd: int) -> bool:
    try:
        return not stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


def _output(wasi: wasmtime.WasiConfig, which: str, target: StdioTarget) -> None:
    if target == "inherit":
        getattr(wasi, f"inherit_{which}")()
    elif target is None:
        setattr(wasi, f"{which}_file", os.devnull)
    elif callable(target):
        setattr(wasi, f"{which}_custom", target)
    else:
        setattr(wasi, f"{which}_file", str(target))


def configure(
    wasi: wasmtime.WasiConfig, stdin: StdioTarget, stdout: StdioTarget, stderr: StdioTarget
) -> StdinFeed | None:
    """Point the WASI config's stdio at the targets; return the stdin feed to close on kill/exit."""
    feed = None
    if stdin is None:
        wasi.stdin_file = os.devnull
    elif stdin == "inherit":
        if _needs_pump(0):
            feed = StdinFeed(0)
            wasi.stdin_file = f"/proc/self/fd/{feed.read_fd}"
            os.close(feed.read_fd)  # wasmtime opened its own handle on the pipe
        else:
            wasi.stdin_file = "/proc/self/fd/0"
    elif isinstance(stdin, str | Path):
        wasi.stdin_file = str(stdin)
    _output(wasi, "stdout", stdout)
    _output(wasi, "stderr", stderr)
    return feed


def write_to(target: StdioTarget, text: str) -> None:
    """Append a runtime message (a trap report) to a container's stderr target, not the runtime's."""
    data = text.encode()
    if target == "inherit":
        with contextlib.suppress(OSError):
            os.write(2, data)
    elif callable(target):
        target(data)
    elif target is not None:
        with contextlib.suppress(OSError), open(target, "ab") as fh:
            fh.write(data)
