"""Shared by the hardening tests: recording measured numbers for ``docs/reliability.md``.

Numbers are only written when ``OCRE_RECORD_RELIABILITY=1`` (``make reliability``), so an ordinary
test run never touches the committed results.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "fuzz" / "results"
HOSTILE_RESULTS = RESULTS / "hostile.json"
CLIENTS_RESULTS = RESULTS / "clients.json"


def _recorder(path: Path) -> Iterator[dict[str, Any]]:
    numbers: dict[str, Any] = {}
    yield numbers
    if os.environ.get("OCRE_RECORD_RELIABILITY") and numbers:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        old = json.loads(path.read_text()) if path.is_file() else {}
        old.update({k: {**v, "date": stamp} for k, v in numbers.items()})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")


def recorder(results_name: str) -> Iterator[dict[str, Any]]:
    """Yield a dict tests fill with ``case -> {outcome, ...}``; merged into ``fuzz/results/NAME``."""
    yield from _recorder(RESULTS / results_name)


@pytest.fixture(scope="module")
def record() -> Iterator[dict[str, Any]]:
    """A dict tests fill with ``attack -> {outcome, stop_ms, rss_delta_mb}``; saved at module end."""
    yield from _recorder(HOSTILE_RESULTS)


@pytest.fixture(scope="module")
def record_clients() -> Iterator[dict[str, Any]]:
    """Like ``record``, for hostile clients and faults against the daemon (``clients.json``)."""
    yield from _recorder(CLIENTS_RESULTS)
