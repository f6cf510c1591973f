"""Every shell example of README.md, docs/ and examples/README.md runs as written (issue 14, part 4).

The conventions (which blocks run, the ``<!-- doc-test: ... -->`` markers, the scratch workspace)
are in ``tests/docs/doc_shell.py`` and docs/architecture.md ("Checked by CI"). One test per
document; a failure names the document, the line, the command and what it printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, REPO_COPY_IGNORE
from tests.docs import doc_shell
from tests.docs.doc_shell import Command, Outcome, Terminal

DOCS = [
    "README.md",
    *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md")),
    "examples/README.md",
]
VENV_BIN = REPO / ".venv" / "bin"
#: What the first stderr line of a refusal must name, by marker.
MISSING = {
    # west's own refusal of a Zephyr command in a workspace without zephyr counts too
    "needs-zephyr": r'zephyr|west update|nothing built|build director|unknown command "(twister|build)"',
    "needs-board": r"board|port|serial|probe|nothing built|zephyr",
    "needs-probe": r"probe|nothing built|zephyr",
    "expect-fail": r".",
}


def _real_zephyr() -> Path | None:
    base = os.environ.get("ZEPHYR_BASE")
    return Path(base) if base and (Path(base) / "VERSION").is_file() else None


def test_every_document_follows_the_conventions() -> None:
    """Unlabelled blocks, stray markers, `$ ` lines outside console blocks: each one names its line."""
    for doc in DOCS:
        doc_shell.blocks(REPO / doc, doc)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("doc", DOCS)
def test_doc_runs_as_written(doc: str, tmp_path: Path) -> None:
    commands = [c for b in doc_shell.blocks(REPO / doc, doc) for c in b.commands]
    if not commands:
        return
    clone, env = _workspace(tmp_path)
    terminal = Terminal(clone, env, tmp_path / "log")
    failures: list[str] = []
    timings: list[tuple[float, Command]] = []
    started = time.monotonic()
    try:
        for command in commands:
            problem, outcome = _check(command, terminal)
            if outcome is not None:
                timings.append((outcome.seconds, command))
            if problem:
                failures.append(_report(doc, command, problem, outcome))
            if outcome is not None and outcome.code is None:
                break  # the terminal is blocked: nothing after it can run
    finally:
        terminal.close()
    slowest = ", ".join(f"line {c.line} {t:.1f} s" for t, c in sorted(timings, key=lambda x: -x[0])[:3])
    took = time.monotonic() - started
    print(f"{doc}: {len(timings)} of {len(commands)} commands run in {took:.1f} s ({slowest})")
    if failures:
        pytest.fail("\n\n".join(failures) + terminal.background_logs(), pytrace=False)


def _check(command: Command, terminal: Terminal) -> tuple[str | None, Outcome | None]:
    if command.marker("skip") or command.root:
        return None, None
    outcome = terminal.type(command)
    if outcome.code is None:
        return (
            f"still running after {outcome.seconds:.0f} s (a blocking command needs '&' or a marker)",
            outcome,
        )
    refusal = "expect-fail" if command.marker("expect-fail") else command.needs
    if refusal == "needs-zephyr" and _real_zephyr():
        refusal = None
    if refusal is None:
        return (None if outcome.code == 0 else f"exit {outcome.code}"), outcome
    return _refusal_problem(outcome, refusal), outcome


def _refusal_problem(outcome: Outcome, kind: str) -> str | None:
    if outcome.code == 0:
        return f"{kind}: expected a refusal (non-zero exit), got exit 0"
    if "Traceback" in outcome.out + outcome.err:
        return f"{kind}: a traceback instead of a one-line error"
    first = _first_message(outcome.err)
    if not first:
        return f"{kind}: exit {outcome.code} with nothing on stderr"
    if not re.search(MISSING[kind], first, re.IGNORECASE):
        return f"{kind}: the first stderr line does not name what is missing (/{MISSING[kind]}/i)"
    return None


def _first_message(err: str) -> str:
    """The first line of stderr that says something: argparse-style usage lines come first."""
    in_usage = False
    for line in err.splitlines():
        if line.startswith("usage:") or (in_usage and line.startswith(" ")):
            in_usage = True
            continue
        if line.strip():
            return line
    return ""


def _report(doc: str, command: Command, problem: str, outcome: Outcome | None) -> str:
    text = f"{doc}:{command.line}: $ {command.text}\n  {problem}"
    if outcome is not None:
        for name, stream in (("stdout", outcome.out), ("stderr", outcome.err)):
            if stream.strip():
                tail = stream.strip().splitlines()[-20:]
                text += f"\n  {name}:\n" + "\n".join(f"    {line}" for line in tail)
    return text


def _link_venv(venv: Path) -> None:
    """The repository's venv, entry by entry, with set-up stamps of its own made after the copy:
    `make` in the copy finds its set-up done and never reinstalls the toolkit, which would point
    the real venv's editable install at this temp copy (as a linked stamp older than a freshly
    copied pyproject.toml did)."""
    venv.mkdir()
    for entry in (REPO / ".venv").iterdir():
        if entry.name not in (".py-ok", ".deb-ok"):
            (venv / entry.name).symlink_to(entry)
    for stamp in (".deb-ok", ".py-ok"):
        (venv / stamp).touch()


def _workspace(tmp: Path) -> tuple[Path, dict[str, str]]:
    """A west workspace with a copy of the repository as its manifest repository, as after
    ``git clone`` + ``west init -l ocre-toolkit``; the cwd is the copy's root."""
    top = tmp / "ws"
    clone = top / "ocre-toolkit"
    shutil.copytree(REPO, clone, ignore=REPO_COPY_IGNORE, symlinks=True)
    _link_venv(clone / ".venv")
    for d in ("home", "ocre-home", "tmp"):
        (tmp / d).mkdir()
    env = {
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp / "home"),
        "OCRE_HOME": str(tmp / "ocre-home"),
        "TMPDIR": str(tmp / "tmp"),
        "LANG": "C.UTF-8",
        "WEST_CONFIG_GLOBAL": str(tmp / "west-global"),
        "WEST_CONFIG_SYSTEM": str(tmp / "west-system"),
    }
    if "OCRE_CACHE_DIR" in os.environ:  # the session's compiled-module cache: not the user's home
        env["OCRE_CACHE_DIR"] = os.environ["OCRE_CACHE_DIR"]
    west = [str(VENV_BIN / "west")]
    subprocess.run([*west, "init", "-l", "ocre-toolkit"], cwd=top, env=env, check=True, capture_output=True)
    zephyr = _real_zephyr()
    if zephyr is None:  # README: a workspace without Zephyr cloned (CI)
        subprocess.run([*west, "config", "manifest.project-filter", "--", "-zephyr"], cwd=top, env=env,
                       check=True, capture_output=True)  # fmt: skip
    else:  # the real workspace's projects (zephyr, modules/…) appear here as links
        env["ZEPHYR_BASE"] = str(zephyr)
        for entry in zephyr.parent.iterdir():
            if entry.name not in (".west", "ocre-toolkit") and not (top / entry.name).exists():
                (top / entry.name).symlink_to(entry)
    return clone, env
