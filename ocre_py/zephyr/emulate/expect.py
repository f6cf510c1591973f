"""Run an emulator or simulator, stream its console, and decide pass/fail from ordered regexes.

Shared by QEMU and native_sim: both are a child process whose stdout is the firmware's UART. The
rule is twister's ``multi_line`` + ``ordered: true`` console harness: each regex must match a line
after the line that matched the previous one. The run stops as soon as the last regex matches (the
firmware may never exit), on timeout, or when the process exits; the result says which and why.
"""

from __future__ import annotations

import logging
import queue
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import InvalidInput

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """Outcome of one run. ``ok`` is the verdict; ``reason`` says why not, in one line."""

    ok: bool
    reason: str
    matched: int
    expected: int
    exit_code: int | None
    timed_out: bool
    seconds: float
    command: tuple[str, ...]
    lines: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("lines")
        return d


def compile_patterns(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise InvalidInput.field(None, "--expect", p, f"a valid regular expression ({exc})") from None
    return out


def _pump(stream: Any, q: queue.Queue[str | None]) -> None:
    for raw in iter(stream.readline, b""):
        q.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    q.put(None)


def _collect(stream: Any, out: list[str]) -> None:
    """Keep the emulator's stderr: its last line is the reason when it dies early."""
    for raw in iter(stream.readline, b""):
        out.append(raw.decode("utf-8", errors="replace").rstrip())


def run_and_expect(
    command: Sequence[str],
    *,
    expect: Sequence[str] = (),
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    cwd: str | Path | None = None,
    success_codes: Sequence[int] = (0,),
) -> RunResult:
    """Run ``command`` and match its output lines against ``expect`` in order.

    Verdict: all regexes matched → ok (the process is stopped if still running). With no regexes,
    ok when the process exits with a code in ``success_codes``. Otherwise not ok, with the reason.
    """
    patterns = compile_patterns(expect)
    log.info("running %s", shlex.join(command))
    started = time.monotonic()
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    q: queue.Queue[str | None] = queue.Queue()
    errors: list[str] = []
    out_thread = threading.Thread(target=_pump, args=(proc.stdout, q), daemon=True)
    err_thread = threading.Thread(target=_collect, args=(proc.stderr, errors), daemon=True)
    out_thread.start()
    err_thread.start()
    lines: list[str] = []
    matched = 0
    timed_out = False
    eof = False
    try:
        while not eof and (not patterns or matched < len(patterns)):
            remaining = None if timeout is None else timeout - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                timed_out = True
                break
            try:
                line = q.get(timeout=remaining if remaining is not None else 0.5)
            except queue.Empty:
                continue
            if line is None:
                eof = True
                break
            lines.append(line)
            if on_line:
                on_line(line)
            if matched < len(patterns) and patterns[matched].search(line):
                matched += 1
    finally:
        if proc.poll() is None and (timed_out or (patterns and matched == len(patterns)) or not eof):
            proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
        code = proc.wait()
        err_thread.join(1)
    seconds = round(time.monotonic() - started, 3)
    all_matched = bool(patterns) and matched == len(patterns)
    if all_matched:
        ok, reason = True, f"matched {matched} of {len(patterns)} patterns"
    elif timed_out:
        ok = False
        waiting = f"; waiting for '{patterns[matched].pattern}'" if patterns else ""
        reason = f"timeout after {timeout:g} s (matched {matched} of {len(patterns)}){waiting}"
    elif patterns:
        ok = False
        tail = f": {errors[-1]}" if errors else ""
        reason = (
            f"exited with code {code} after matching {matched} of {len(patterns)}; "
            f"never saw '{patterns[matched].pattern}'{tail}"
        )
    else:
        ok = code in success_codes
        tail = f": {errors[-1]}" if errors and not ok else ""
        reason = f"exited with code {code}{tail}"
    return RunResult(
        ok=ok,
        reason=reason,
        matched=matched,
        expected=len(patterns),
        exit_code=None if (all_matched or timed_out) and code < 0 else code,
        timed_out=timed_out,
        seconds=seconds,
        command=tuple(command),
        lines=tuple(lines),
    )
