"""The docs runner itself: how blocks and markers are read, and how the terminal behaves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.docs.doc_shell import Command, DocError, Marker, Terminal, blocks
from tests.docs.test_docs_run import _first_message, _refusal_problem


def _parse(tmp_path: Path, text: str) -> list[Command]:
    doc = tmp_path / "page.md"
    doc.write_text(text)
    return [c for b in blocks(doc, "page.md") for c in b.commands]


def test_sh_and_console_blocks(tmp_path: Path) -> None:
    commands = _parse(
        tmp_path,
        "Intro.\n\n"
        '<!-- doc-test: needs-zephyr "west ocre build" -->\n'
        "<!-- doc-test: timeout: 5 -->\n"
        "```sh\n"
        "# a comment\n"
        "ocre build a.c -o a.wasm   # trailing comment\n"
        "west ocre build -b mps2/an385 \\\n"
        "    -d build\n"
        "cat > f.txt <<'EOF'\n"
        "line\n"
        "EOF\n"
        "```\n\n"
        "```console\n"
        "$ ocre daemon &\n"
        "output line\n"
        "# systemctl enable ocre\n"
        "```\n"
        "```text\nocre run [OPTIONS] IMAGE\n```\n",
    )
    assert [(c.line, c.root) for c in commands] == [
        (7, False),
        (8, False),
        (10, False),
        (16, False),
        (18, True),
    ]
    build, heredoc, daemon = commands[1], commands[2], commands[3]
    assert build.text == "west ocre build -b mps2/an385 \\\n    -d build" and build.needs == "needs-zephyr"
    assert commands[0].needs is None and commands[0].timeout == 5.0 and build.timeout == 5.0
    assert heredoc.text == "cat > f.txt <<'EOF'\nline\nEOF"
    assert daemon.background and not commands[0].background and commands[4].text == "systemctl enable ocre"


def test_indented_blocks_in_lists(tmp_path: Path) -> None:
    commands = _parse(
        tmp_path, "1. Step:\n\n   <!-- doc-test: needs-probe -->\n   ```sh\n   west ocre flash\n   ```\n"
    )
    assert [(c.text, c.needs) for c in commands] == [("west ocre flash", "needs-probe")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```\nls\n```\n", "page.md:1: code block without a language"),
        ("```text\n$ ls\n```\n", "page.md:2: a '$ ' command in a ```text block"),
        (
            "<!-- doc-test: skip: x -->\nprose\n```sh\nls\n```\n",
            "page.md:1: doc-test marker not directly above",
        ),
        (
            "<!-- doc-test: skip: x -->\n```yaml\na: 1\n```\n",
            "page.md:1: doc-test marker above a ```yaml block",
        ),
        ("<!-- doc-test: sometimes -->\n```sh\nls\n```\n", "page.md:1: unreadable doc-test marker"),
        ("<!-- doc-test: skip -->\n```sh\nls\n```\n", "page.md:1: doc-test skip needs ': TEXT'"),
        (
            '<!-- doc-test: expect-fail "west" -->\n```sh\nls\n```\n',
            "page.md:1: doc-test expect-fail matches no",
        ),
        ("```sh\nls\n", "page.md:1: code block never closed"),
        ("<!-- doc-test: skip: x -->\n", "page.md:1: doc-test marker not followed by a code block"),
    ],
)
def test_broken_conventions_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DocError, match=message.replace("$", r"\$").replace("(", r"\(")):
        _parse(tmp_path, text)


def _terminal(tmp_path: Path) -> Terminal:
    return Terminal(tmp_path, {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, tmp_path / "log")


def _command(text: str, *markers: Marker) -> Command:
    return Command(1, text, markers=list(markers))


def test_terminal_keeps_state_and_reports_exit_codes(tmp_path: Path) -> None:
    terminal = _terminal(tmp_path)
    try:
        assert terminal.type(_command("mkdir sub && cd sub && export GREETING=hi")).code == 0
        r = terminal.type(_command('echo "$GREETING from $(basename "$PWD")"; echo oops >&2; false'))
        assert (r.code, r.out, r.err) == (1, "hi from sub\n", "oops\n")
        r = terminal.type(_command("sleep 30", Marker("timeout", (), "0.5", 1)))
        assert r.code is None  # still running: the document stops here
    finally:
        terminal.close()


def test_background_commands_start_and_are_stopped(tmp_path: Path) -> None:
    terminal = _terminal(tmp_path)
    try:
        ready = Marker("ready", (), "serving", 1)
        r = terminal.type(_command("(echo starting; sleep 0.3; echo serving; exec sleep 60) &", ready))
        assert r.code == 0 and "serving" in r.out
        r = terminal.type(_command("(echo 'cannot bind' >&2; exit 1) &"))
        assert r.code == 1 and "the background command exited" in r.err
        pid = int(next((tmp_path / "log").glob("001.pid")).read_text())
    finally:
        terminal.close()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]


def test_refusals_need_a_first_line_that_names_the_missing_thing() -> None:
    from tests.docs.doc_shell import Outcome

    def outcome(code: int, err: str) -> Outcome:
        return Outcome(code, "", err, 0.1)

    assert (
        _refusal_problem(outcome(1, "ERROR: no Zephyr tree: ZEPHYR_BASE is not set\nhint: …"), "needs-zephyr")
        is None
    )
    west = 'usage: west [-h] <command> ...\nwest: unknown command "twister"; workspace /ws does not define'
    assert _first_message(west).startswith("west: unknown command") and not _refusal_problem(
        outcome(1, west), "needs-zephyr"
    )
    assert "got exit 0" in str(_refusal_problem(outcome(0, ""), "needs-probe"))
    assert "traceback" in str(
        _refusal_problem(outcome(1, "Traceback (most recent call last):"), "expect-fail")
    )
    assert "nothing on stderr" in str(_refusal_problem(outcome(2, ""), "expect-fail"))
    assert "does not name" in str(_refusal_problem(outcome(1, "ocre: error: bad size '4X'"), "needs-board"))
