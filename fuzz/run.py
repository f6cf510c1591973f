"""``python -m fuzz.run --seconds N [TARGET...]``: run each target under atheris for N seconds.

Each target runs in its own process (libFuzzer stops at the first crash and owns the process), with
its corpus in ``build/fuzz/corpus/<target>`` (seeded from ``seeds()``, kept between runs so coverage
accumulates) and crash inputs in ``build/fuzz/crashes/``, copied to ``fuzz/regressions/<target>/``
which CI replays. The outcome per target — inputs tried, crashes, seconds, peak RSS, corpus size —
is written to ``fuzz/results/fuzz.json`` and ``docs/reliability.md`` is regenerated from it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fuzz import TARGETS
from fuzz.report import RESULTS_DIR, write_report

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "fuzz"
REGRESSIONS = REPO / "fuzz" / "regressions"
_STAT = re.compile(r"stat::(\w+):\s*(\d+)")
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_EXEC = re.compile(r"#(\d+)\s")


def _seed_corpus(name: str, corpus: Path) -> None:
    from fuzz._harness import load_target

    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(load_target(name).seeds()):
        (corpus / f"seed-{i}").write_bytes(seed)


def run_target(name: str, seconds: int, *, timeout_per_input: int = 10) -> dict[str, Any]:
    """Fuzz one target for ``seconds``; return its outcome (never raises for a crash)."""
    corpus, crashes = WORK / "corpus" / name, WORK / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    _seed_corpus(name, corpus)
    before = {p.name for p in crashes.iterdir()}
    cmd = [
        sys.executable, "-m", "fuzz._harness", name,
        f"-max_total_time={seconds}", f"-timeout={timeout_per_input}", "-rss_limit_mb=2048",
        "-print_final_stats=1", f"-artifact_prefix={crashes}/{name}-", "-max_len=65536", str(corpus),
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, errors="replace", timeout=seconds * 3 + 120,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    elapsed = time.monotonic() - started
    log = proc.stderr + proc.stdout
    (WORK / f"{name}.log").write_text(log)
    stats = {k: int(v) for k, v in _STAT.findall(log)}
    done = _DONE.findall(log)
    fuzz_seconds = int(done[-1][1]) if done else None
    execs = stats.get("number_of_executed_units") or (int(done[-1][0]) if done else 0)
    if not execs:
        marks = _EXEC.findall(log)
        execs = int(marks[-1]) if marks else 0
    new = sorted(p.name for p in crashes.iterdir() if p.name not in before)
    for crash in new:  # keep the reproducer: tests/hardening replays every one on each CI run
        keep = REGRESSIONS / name / crash.split("-")[-1]
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_bytes((crashes / crash).read_bytes())
    crashed = proc.returncode != 0
    detail = ""
    if crashed:
        tb = log[log.find("=== Uncaught Python exception") :] if "Uncaught Python" in log else log[-1500:]
        detail = "\n".join(tb.splitlines()[:30])
    return {
        "target": name,
        "parser": getattr(__import__(f"fuzz.{name}", fromlist=["PARSER"]), "PARSER", name),
        "inputs": execs,
        "seconds": fuzz_seconds if fuzz_seconds is not None else round(elapsed, 1),
        "wall_seconds": round(elapsed, 1),
        "crashes": len(new) if crashed else 0,
        "crash_files": new,
        "detail": detail,
        "peak_rss_mb": stats.get("peak_rss_mb"),
        "corpus": len(list(corpus.iterdir())),
        "returncode": proc.returncode,
        "engine": "atheris (libFuzzer)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="time per target (default 60)")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/reliability.md")
    parser.add_argument("targets", nargs="*", help=f"targets (default all: {', '.join(TARGETS)})")
    args = parser.parse_args(argv)
    names = [t.removesuffix(".py").removeprefix("fuzz/") for t in args.targets] or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "fuzz.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    failed = 0
    for name in names:
        outcome = run_target(name, args.seconds)
        outcome["run_seconds"] = args.seconds
        outcome["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        results[name] = outcome
        path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        status = f"CRASH ({', '.join(outcome['crash_files'])})" if outcome["returncode"] else "ok"
        print(f"{name}: {outcome['inputs']} inputs in {outcome['seconds']} s, {status}", flush=True)
        if outcome["returncode"]:
            failed += 1
            print(outcome["detail"], flush=True)
    if not args.no_report:
        write_report()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
