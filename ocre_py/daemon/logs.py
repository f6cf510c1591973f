"""Per-container log files with a size cap and rotation, readable while they grow (``ocre logs -f``).

A container's stdout and stderr both go to ``<workdir>/logs/<id>/container.log``; when a write would
take it past ``max_bytes``, the file becomes ``container.log.1`` (older ones shift up to
``max_files - 1``, the oldest is dropped). Disk use per container is therefore bounded by
``max_bytes × max_files``.

Followers track an absolute byte position in the stream of everything ever written (``total``):
the current file starts at ``total - size``, so a follower that fell behind a rotation reads the
rest of ``.1`` first and never sees a byte twice. Writers notify followers through a condition.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from pathlib import Path

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_FILES = 3
LOG_NAME = "container.log"


class ContainerLog:
    """A callable sink (``ContainerSpec.stdout``) writing to a rotating file."""

    def __init__(
        self, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_files: int = DEFAULT_MAX_FILES
    ) -> None:
        self.directory = directory
        self.path = directory / LOG_NAME
        self.max_bytes = max(1024, max_bytes)
        self.max_files = max(1, max_files)
        self._cond = threading.Condition()
        self._fh: object | None = None
        directory.mkdir(parents=True, exist_ok=True)
        size = self.path.stat().st_size if self.path.exists() else 0
        self._size = size
        # Past runs' bytes count too, so positions stay valid across daemon restarts.
        self.total = size + sum(p.stat().st_size for p in self._rotated() if p.exists())
        self.closed = False

    def _rotated(self) -> list[Path]:
        return [self.directory / f"{LOG_NAME}.{i}" for i in range(1, self.max_files)]

    def __call__(self, data: bytes) -> None:
        self.write(data)

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._cond:
            if self._size and self._size + len(data) > self.max_bytes:
                self._rotate()
            with open(self.path, "ab") as fh:
                fh.write(data)
            self._size += len(data)
            self.total += len(data)
            self._cond.notify_all()

    def _rotate(self) -> None:
        files = [self.path, *self._rotated()]
        if len(files) == 1:
            self.path.unlink(missing_ok=True)
        else:
            files[-1].unlink(missing_ok=True)
            for newer, older in zip(reversed(files[:-1]), reversed(files[1:]), strict=True):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(newer, older)
        self._size = 0

    def read_from(self, position: int) -> tuple[bytes, int]:
        """Bytes from absolute ``position`` to the end (as far as the kept files allow), new position."""
        with self._cond:
            total, size = self.total, self._size
            chunks: list[bytes] = []
            start_current = total - size
            if position < start_current:
                # Walk back through rotated files, newest first, to find where position falls.
                offset = start_current
                older: list[tuple[Path, int]] = []
                for p in self._rotated():
                    if not p.exists():
                        break
                    n = p.stat().st_size
                    offset -= n
                    older.append((p, offset))
                    if offset <= position:
                        break
                for p, begin in reversed(older):
                    data = p.read_bytes()
                    chunks.append(data[max(0, position - begin) :])
                position = start_current
            if position < total:
                with open(self.path, "rb") as fh:
                    fh.seek(position - start_current)
                    chunks.append(fh.read(total - position))
            return b"".join(chunks), total

    def tail_position(self, lines: int | None) -> int:
        """The absolute position where the last ``lines`` lines start (``None``: everything kept)."""
        data, end = self.read_from(0)
        if lines is None:
            return end - len(data)
        if lines <= 0:
            return end
        cut = len(data)
        if data.endswith(b"\n"):
            cut -= 1
        for _ in range(lines):
            cut = data.rfind(b"\n", 0, cut)
            if cut < 0:
                return end - len(data)
        return end - len(data) + cut + 1

    def wait_for_more(self, position: int, timeout: float) -> bool:
        with self._cond:
            if self.total > position or self.closed:
                return True
            self._cond.wait(timeout)
            return self.total > position

    def wake(self) -> None:
        """Wake followers (the container ended) so they can notice and finish."""
        with self._cond:
            self._cond.notify_all()

    def remove(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        shutil.rmtree(self.directory, ignore_errors=True)
