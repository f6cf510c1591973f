"""Shell examples of the docs, as data, and a terminal to type them into.

**Which blocks run.** Every fenced block of README.md, docs/**/*.md and examples/README.md must name
its language. ```` ```sh ````, ```` ```bash ```` and ```` ```shell ```` blocks are scripts: every
line that is not blank or a comment is a command (a line ending in ``\\`` continues on the next; a
here-document runs to its terminator). ```` ```console ```` blocks are transcripts: lines starting
with ``$ `` are commands, ``# `` a root prompt (never run: CI must not write /etc), anything else
is output and is not compared. Other languages (``text`` for synopses and output,
``yaml``, ``python``, ``c``) are not run, and may not hold ``$ `` lines.

**Markers** are HTML comments directly above a block (only blank lines or other markers between),
invisible when the page is rendered::

    <!-- doc-test: KIND ["COMMAND PREFIX"]... [: TEXT] -->

Without a quoted prefix a marker applies to every command of the block; with prefixes, to the
commands that start with one of them (each prefix must match a command). Kinds:

``skip: REASON``
    not run (the whole test suite, a remote host, network downloads); the reason is required.
``needs-zephyr``, ``needs-board``, ``needs-probe``
    run; without the thing (no ``ZEPHYR_BASE``; CI never has a board or a probe) the command must
    be refused clearly: non-zero exit, no traceback, a first stderr line that names what is missing
    (a Zephyr tree, a build, a board, a probe). With ``ZEPHYR_BASE`` set, ``needs-zephyr`` commands
    must succeed.
``expect-fail``
    the example shows a refusal: non-zero exit with the same one-line rule.
``ready: TEXT``
    a command ending in ``&`` has started when TEXT appears in its output (default: its first
    line); it must still be running then (a server that printed an error and exited fails).
``timeout: SECONDS``
    per command (default 120).

**Where it runs.** Each document runs in a fresh west workspace in a temp dir: a copy of this
repository as ``ocre-toolkit/`` (``west init -l``, zephyr filtered out as README says for CI), the
cwd is that copy's root as after a clone, ``.venv/bin`` first on PATH, and ``HOME``, ``OCRE_HOME``
and west's global config inside the temp dir. One bash process per document types the commands in
order, so ``cd``, ``export`` and ``&`` carry over as in a terminal; the process group is killed at
the end.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SHELL_LANGS = frozenset({"sh", "bash", "shell", "console"})
KINDS = frozenset({"skip", "needs-zephyr", "needs-board", "needs-probe", "expect-fail", "ready", "timeout"})
NEEDS = ("needs-zephyr", "needs-board", "needs-probe")
DEFAULT_TIMEOUT = 120.0
READY_TIMEOUT = 30.0  # a background command that has not started by then will not

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[^`\s]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<body>.*?)\s*-->\s*$")
_MARKER_BODY = re.compile(r'^(?P<kind>[a-z-]+)(?P<prefixes>(?:\s+"[^"]+")*)\s*(?::\s*(?P<text>.*))?$')
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>\w+)\1")


class DocError(Exception):
    """A document breaks the conventions above (reported with file and line)."""


@dataclass(frozen=True)
class Marker:
    kind: str
    prefixes: tuple[str, ...]
    text: str
    line: int

    def applies(self, command: str) -> bool:
        return not self.prefixes or any(command.startswith(p) for p in self.prefixes)


@dataclass
class Command:
    line: int  # 1-based line of the document
    text: str  # what is typed, continuation lines and here-documents included
    root: bool = False
    markers: list[Marker] = field(default_factory=list)

    def marker(self, kind: str) -> Marker | None:
        return next((m for m in self.markers if m.kind == kind), None)

    @property
    def needs(self) -> str | None:
        return next((m.kind for m in self.markers if m.kind in NEEDS), None)

    @property
    def background(self) -> bool:
        first = self.text.replace("\\\n", " ").split("\n", 1)[0]  # continuation lines, not a here-document
        try:
            lexer = shlex.shlex(first, posix=True, punctuation_chars=True)
            lexer.commenters = "#"
            tokens = list(lexer)
        except ValueError:
            return False
        return bool(tokens) and tokens[-1] == "&"

    @property
    def timeout(self) -> float:
        m = self.marker("timeout")
        return float(m.text) if m else DEFAULT_TIMEOUT


@dataclass
class Block:
    line: int  # the opening fence
    lang: str
    commands: list[Command]


def blocks(path: Path, rel: str) -> list[Block]:
    """The shell blocks of a document, with their markers applied; DocError on a broken convention."""
    lines = path.read_text().splitlines()
    out: list[Block] = []
    pending: list[Marker] = []
    i = 0
    while i < len(lines):
        text = lines[i]
        marker = _MARKER.match(text)
        fence = _FENCE.match(text)
        if marker:
            pending.append(_parse_marker(marker["body"], rel, i + 1))
        elif fence:
            indent, lang = len(fence["indent"]), fence["lang"]
            start = i
            body: list[str] = []
            i += 1
            while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
                body.append(lines[i][indent:] if not lines[i][:indent].strip() else lines[i].lstrip())
                i += 1
            if i == len(lines):
                raise DocError(f"{rel}:{start + 1}: code block never closed")
            if not lang:
                raise DocError(
                    f"{rel}:{start + 1}: code block without a language: say ```sh or ```console "
                    "(run by tests/docs) or ```text (not run)"
                )
            if lang in SHELL_LANGS:
                commands = _commands(body, start + 2, lang, rel)
                _apply(pending, commands, rel)
                out.append(Block(start + 1, lang, commands))
            else:
                if pending:
                    raise DocError(f"{rel}:{pending[0].line}: doc-test marker above a ```{lang} block")
                dollar = next((n for n, b in enumerate(body) if b.startswith("$ ")), None)
                if dollar is not None:
                    raise DocError(
                        f"{rel}:{start + 2 + dollar}: a '$ ' command in a ```{lang} block: use ```console"
                    )
            pending = []
        elif text.strip() and pending:
            raise DocError(f"{rel}:{pending[0].line}: doc-test marker not directly above a code block")
        i += 1
    if pending:
        raise DocError(f"{rel}:{pending[0].line}: doc-test marker not followed by a code block")
    return out


def _parse_marker(body: str, rel: str, line: int) -> Marker:
    m = _MARKER_BODY.match(body)
    if not m or m["kind"] not in KINDS:
        raise DocError(f"{rel}:{line}: unreadable doc-test marker {body!r}: expected one of {sorted(KINDS)}")
    prefixes = tuple(re.findall(r'"([^"]+)"', m["prefixes"] or ""))
    marker = Marker(m["kind"], prefixes, (m["text"] or "").strip(), line)
    if marker.kind in ("skip", "ready", "timeout") and not marker.text:
        raise DocError(f"{rel}:{line}: doc-test {marker.kind} needs ': TEXT'")
    if marker.kind == "timeout" and not re.fullmatch(r"\d+(\.\d+)?", marker.text):
        raise DocError(f"{rel}:{line}: doc-test timeout wants seconds, not {marker.text!r}")
    return marker


def _commands(body: list[str], first_line: int, lang: str, rel: str) -> list[Command]:
    commands: list[Command] = []
    n = 0
    while n < len(body):
        raw, line = body[n], first_line + n
        n += 1
        if lang == "console":
            if raw.startswith("$ "):
                text, root = raw[2:], False
            elif raw.startswith("# "):
                text, root = raw[2:], True
            else:
                continue  # output
        else:
            text, root = raw, False
            if not text.strip() or text.lstrip().startswith("#"):
                continue
        while text.endswith("\\") and n < len(body):
            text += "\n" + body[n]
            n += 1
        heredoc = _HEREDOC.search(text)
        if heredoc:
            while n < len(body):
                part = body[n][2:] if lang == "console" and body[n].startswith("> ") else body[n]
                text += "\n" + part
                n += 1
                if part.strip() == heredoc["word"]:
                    break
            else:
                raise DocError(f"{rel}:{line}: here-document never ends ({heredoc['word']})")
        commands.append(Command(line, text, root))
    return commands


def _apply(markers: list[Marker], commands: list[Command], rel: str) -> None:
    for marker in markers:
        matched = [c for c in commands if marker.applies(c.text)]
        if not matched:
            raise DocError(
                f"{rel}:{marker.line}: doc-test {marker.kind} matches no command of the block below"
            )
        for command in matched:
            command.markers.append(marker)


@dataclass
class Outcome:
    code: int | None  # None: still running after the timeout
    out: str
    err: str
    seconds: float


class Terminal:
    """One bash process that commands are typed into, in order, like a user's terminal."""

    def __init__(self, cwd: Path, env: dict[str, str], logdir: Path) -> None:
        self.logdir = logdir
        logdir.mkdir(parents=True)
        self.log = logdir / "bash.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["bash", "--noprofile", "--norc"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,  # its own process group: close() ends it and every job
            )
        self.count = 0
        self.jobs: list[tuple[Command, Path, Path]] = []

    def type(self, command: Command) -> Outcome:
        self.count += 1
        base = self.logdir / f"{self.count:03d}"
        out, err, rc = (base.with_suffix(s) for s in (".out", ".err", ".rc"))
        q = shlex.quote
        pid = base.with_suffix(".pid")
        script = (
            f"{{\n{command.text}\n}} >{q(str(out))} 2>{q(str(err))} </dev/null\n"
            f"__doc_test_rc=$?; echo $! >{q(str(pid))}\n"
            f"echo $__doc_test_rc >{q(str(rc))}.tmp; mv {q(str(rc))}.tmp {q(str(rc))}\n"
        )
        assert self.proc.stdin is not None
        start = time.monotonic()
        self.proc.stdin.write(script.encode())
        self.proc.stdin.flush()
        deadline = start + command.timeout
        while not rc.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return Outcome(None, _read(out), _read(err) + _read(self.log), time.monotonic() - start)
            time.sleep(0.02)
        code = int(rc.read_text())
        if command.background:
            self.jobs.append((command, out, err))
            ready = command.marker("ready")
            deadline = start + min(command.timeout, READY_TIMEOUT)
            while not _started(ready, out, err):
                if time.monotonic() > deadline:
                    what = f"{ready.text!r} in its output" if ready else "a first line of output"
                    return Outcome(
                        None, _read(out), _read(err) + f"\n[doc-test: no {what}]", deadline - start
                    )
                time.sleep(0.02)
            time.sleep(0.2)  # a server that printed an error is gone by now
            if not _alive(int(pid.read_text())):
                return Outcome(1, _read(out), _read(err) + "\n[doc-test: the background command exited]", 0.0)
        return Outcome(code, _read(out), _read(err), time.monotonic() - start)

    def background_logs(self) -> str:
        return "".join(
            f"\n--- background job from line {c.line} ({c.text.splitlines()[0]}), last output:\n"
            + "\n".join((_read(out) + _read(err)).splitlines()[-15:])
            for c, out, err in self.jobs
        )

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.proc.poll()
                if not _group_alive(self.proc.pid):
                    break
                time.sleep(0.05)
        self.proc.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting for a reaper do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _started(ready: Marker | None, out: Path, err: Path) -> bool:
    text = _read(out) + _read(err)
    return ready.text in text if ready else bool(text)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return ""
