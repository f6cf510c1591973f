"""Crash consistency, CI form: each operation killed with SIGKILL at 20 random points (issue 7.3).

The long form (200 kills per operation) is ``make reliability`` / ``python -m fuzz.crashkill``; both
use :func:`fuzz.crashkill.run_operation`: a real forked process, a real SIGKILL, a real registry,
real littlefs images, and ``ocre doctor``'s checks afterwards. The control case proves the harness
can fail: a writer that is *not* atomic is caught leaving a torn file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fuzz import crashkill

CI_ITERATIONS = 20


@pytest.mark.parametrize("operation", list(crashkill.OPERATIONS))
def test_kill_nine_leaves_valid_state_and_a_working_retry(operation: str, tmp_path: Path) -> None:
    out = crashkill.run_operation(operation, CI_ITERATIONS, seed=7, retry_every=10, work=tmp_path / "w")
    assert out.iterations == CI_ITERATIONS
    assert out.killed >= CI_ITERATIONS // 4, f"kills should mostly land mid-operation: {out}"
    assert out.invalid == 0 and out.retry_failed == 0, "\n".join(out.problems[:10])
    assert not out.orphans, "a killed create or remove left a container half-made (issue 13.11)"


class _TornIndexWrite(crashkill._StoreOp):
    """A deliberately non-atomic writer: index.json rewritten in place, in slow chunks."""

    def setup(self) -> None:
        from ocre_py.image import ImageStore, build_image

        build_image(ImageStore(self.store_root), "torn:1", crashkill.big_module(1, 4096))

    def run(self) -> int:
        index = self.store_root / "index.json"
        text = index.read_bytes()
        with open(index, "wb") as fh:  # truncates first: exactly the bug atomic_write prevents
            for i in range(0, len(text), 16):
                fh.write(text[i : i + 16])
                fh.flush()
                os.fsync(fh.fileno())
                time.sleep(0.002)
        return 0


def test_the_harness_catches_a_torn_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(crashkill.OPERATIONS, "torn-control", _TornIndexWrite)
    out = crashkill.run_operation("torn-control", 10, seed=3, retry_every=100, work=tmp_path / "w")
    assert out.invalid >= 3, out
    assert any("index.json" in p for p in out.problems)
