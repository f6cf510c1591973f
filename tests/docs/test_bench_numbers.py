"""Measured numbers in the docs come from docs/benchmarks.json, never typed by hand (issue 14, part 4).

Prose shows a measurement as a span that ``make bench`` (``benchmarks/run.py``) rewrites after every
run: ``<!-- bench:bench_daemon.idle_rss_mb:.0f -->30<!-- /bench --> MB``. These tests hold every
span to the JSON, docs/benchmarks.md's tables to the JSON, and README.md and docs/daemon.md to no
hand-typed measurement (a number with ms, MB, KB or ×) outside a span beyond the listed constants.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.run import DATA, SPAN, SPAN_DOCS, rewrite_spans, span_value
from tests.conftest import REPO

RESULTS = json.loads(DATA.read_text())
FIX = "run `python -m benchmarks.run --spans` (rewrites every span from docs/benchmarks.json)"

#: Numbers with a unit that are not measurements: design constants, goals, and the Zephyr 3.4.99
#: verification that docs/zephyr.md records (run once by hand on a real Zephyr; not a benchmark).
NOT_MEASURED = {
    "README.md": {"64 KB", "192 KB", "76.6 KB", "59.9 KB"},
    "docs/daemon.md": {"20 ms", "5 MB", "0.5 ms", "2 ms", "1 MB"},
}
_UNIT = re.compile(r"(?<![\w.])\d[\d,.]*\s?(?:ms|MB|KB|×)(?!\w)")


def _docs() -> list[Path]:
    return sorted({p for pattern in SPAN_DOCS for p in REPO.glob(pattern)})


def test_every_span_shows_the_json_value() -> None:
    wrong, count = [], 0
    for path in _docs():
        text = path.read_text()
        for m in SPAN.finditer(text):
            count += 1
            line = text.count("\n", 0, m.start()) + 1
            expected = span_value(RESULTS, m["ref"])
            if m["value"] != expected:
                wrong.append(
                    f"{path.relative_to(REPO)}:{line}: {m['ref']} shows {m['value']!r}, the JSON {expected!r}"
                )
    assert not wrong, "\n".join(wrong) + f"\n{FIX}"
    assert count >= 20, "README, daemon.md, runtime.md and tiny.md show their measurements as spans"


def test_benchmarks_md_is_the_json() -> None:
    """docs/benchmarks.md is written from the JSON by the same run; every value row must match it."""
    text = (REPO / "docs" / "benchmarks.md").read_text()
    sections = dict(re.findall(r"^## (\S+)\n\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL))
    assert sorted(sections) == sorted(k.removeprefix("bench_") for k in RESULTS)
    for name, data in RESULTS.items():
        rows = [ln for ln in sections[name.removeprefix("bench_")].splitlines() if ln.startswith("| ")][1:]
        items = data.items() if isinstance(data, dict) else [("result", data)]
        expected = [f"| {k} | {v} |" for k, v in items]
        assert sorted(rows) == sorted(expected), (
            f"docs/benchmarks.md section {name} is not the JSON's (make bench)"
        )


def test_no_hand_typed_measurements() -> None:
    for doc, allowed in NOT_MEASURED.items():
        text = (REPO / doc).read_text()
        prose = re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.MULTILINE | re.DOTALL)  # code blocks
        prose = SPAN.sub("", prose)
        prose = re.sub(r"`[^`]*`", "", prose)  # inline code
        found = {re.sub(r"\s", " ", m[0]) for m in _UNIT.finditer(prose)}
        typed = sorted(found - allowed)
        assert not typed, (
            f"{doc}: {typed} typed by hand: show a measurement as <!-- bench:SECTION.KEY -->…<!-- /bench --> "
            f"(benchmarks/run.py), or add a constant that is not a measurement to NOT_MEASURED"
        )


def test_rewrite_spans_puts_the_json_value_in(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "page.md"
    doc.write_text(
        "idle at <!-- bench:bench_daemon.idle_rss_mb:.0f -->31<!-- /bench --> MB, "
        "<!-- bench:bench_tiny.hello_module_bytes/1000:.1f -->20.0<!-- /bench --> KB; "
        "<!-- bench:bench_daemon.containers_running:, -->1000<!-- /bench --> containers\n"
    )
    results = {
        "bench_daemon": {"idle_rss_mb": 29.6, "containers_running": 1000},
        "bench_tiny": {"hello_module_bytes": 20758},
    }
    assert rewrite_spans(results, tmp_path) == [doc]
    assert doc.read_text() == (
        "idle at <!-- bench:bench_daemon.idle_rss_mb:.0f -->30<!-- /bench --> MB, "
        "<!-- bench:bench_tiny.hello_module_bytes/1000:.1f -->20.8<!-- /bench --> KB; "
        "<!-- bench:bench_daemon.containers_running:, -->1,000<!-- /bench --> containers\n"
    )
    assert rewrite_spans(results, tmp_path) == []  # nothing left to change
