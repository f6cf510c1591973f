"""Filesystem helpers every room uses: the one place that writes files atomically, and locks them.

A full filesystem (``ENOSPC``, or ``EDQUOT``) surfaces as one :class:`~ocre_py.errors.NoSpace` line
naming the path and what was being written, never as an internal error; the atomic writers leave
the old file in place when it happens.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ocre_py.errors import NoSpace

_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def disk_errors(path: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Turn a full-filesystem ``OSError`` raised inside into :class:`NoSpace` for ``path``."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, NoSpace) or exc.errno not in _FULL:
            raise
        raise NoSpace(str(path), what, errno_=exc.errno) from None


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) between processes."""
    target = Path(path)
    with disk_errors(target, "a lock file"):
        target.parent.mkdir(parents=True, exist_ok=True)
        fh = open(target, "a+")  # noqa: SIM115 - closed below, after the lock is released
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "wb", *, perms: int | None = None, what: str = "a file"
) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success flush, fsync and rename it over ``path``.

    Readers see the old file or the new one, never half of one; on an exception the temp file is
    removed and ``path`` is untouched. ``what`` names the data in a full-disk error.
    """
    target = Path(path)
    with disk_errors(target, what):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            if perms is not None:
                os.fchmod(fd, perms)
            with os.fdopen(fd, mode) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | bytearray | str,
    *,
    perms: int | None = None,
    what: str = "a file",
) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    if isinstance(data, str):
        data = data.encode()
    with atomic_open(path, "wb", perms=perms, what=what) as fh:
        fh.write(data)


def atomic_write_many(files: Mapping[Path, bytes | str], *, what: str = "files") -> None:
    """Write several files as one unit: every temp file is complete before the first rename.

    A full disk or any error while writing leaves every target as it was; only the renames, which
    need no space, remain between the first new file and the last.
    """
    done: list[tuple[str, Path]] = []
    try:
        for target, data in files.items():
            with disk_errors(target, what):
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
                done.append((tmp, target))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data.encode() if isinstance(data, str) else data)
                    fh.flush()
                    os.fsync(fh.fileno())
        for tmp, target in done:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
