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

HOSTILE_RESULTS = Path(__file__).resolve().parents[2] / "fuzz" / "results" / "hostile.json"


@pytest.fixture(scope="module")
def record() -> Iterator[dict[str, Any]]:
    """A dict tests fill with ``attack -> {outcome, stop_ms, rss_delta_mb}``; saved at module end."""
    numbers: dict[str, Any] = {}
    yield numbers
    if os.environ.get("OCRE_RECORD_RELIABILITY") and numbers:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        old = json.loads(HOSTILE_RESULTS.read_text()) if HOSTILE_RESULTS.is_file() else {}
        old.update({k: {**v, "date": stamp} for k, v in numbers.items()})
        HOSTILE_RESULTS.parent.mkdir(parents=True, exist_ok=True)
        HOSTILE_RESULTS.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
