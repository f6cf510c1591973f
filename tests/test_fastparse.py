"""The client verbs' command lines without argparse (issue 14): the same namespace as argparse, or
None so that argparse answers — help, errors, "did you mean" — as it always has."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pytest

from ocre_py.cli import fastparse
from ocre_py.cli.main import FAST_VERBS, build_parser, fast_parse

#: Command lines the fast parser reads; argparse must read each the same way.
ACCEPTED = [
    pytest.param(["ps"], id="ps"),
    pytest.param(["ps", "-a", "--json"], id="ps-flags"),
    pytest.param(["ps", "--all", "-q", "-w"], id="ps-long-and-short"),
    pytest.param(["ps", "-a", "abc"], id="ps-id"),
    pytest.param(["ps", "--host=unix:///x.sock", "--token", "t"], id="ps-inline-value"),
    pytest.param(["-H", "unix:///x.sock", "--debug", "ps"], id="global-options"),
    pytest.param(["-q", "ps", "-q"], id="global-and-verb-quiet"),
    pytest.param(["ps", "--tls", "--tls-ca", "ca.pem"], id="ps-tls"),
    pytest.param(["run", "hello.wasm"], id="run"),
    pytest.param(
        ["run", "--rm", "-e", "A=1", "-e", "B=2", "-n", "x", "img", "a", "-b", "--count=2"], id="run-args"
    ),
    pytest.param(["run", "img", "--na=x", "--debug", "-H"], id="run-args-like-options"),
    pytest.param(
        ["run", "-d", "--restart", "on-failure:3", "-l", "k=v", "-k", "ocre:api", "img"], id="run-d"
    ),
    pytest.param(["run", "-v", "/a:/b", "--memory=4M", "--local", "img", "-", "x"], id="run-remainder-dash"),
    pytest.param(["logs", "-f", "-n", "5", "c1"], id="logs-type-int"),
    pytest.param(["logs", "--tail=7", "c1"], id="logs-inline-int"),
    pytest.param(["rm", "-f", "a", "b"], id="rm-many"),
    pytest.param(["stop", "-t", "3", "a"], id="stop-time"),
    pytest.param(["restart", "--time=0", "a", "b"], id="restart"),
    pytest.param(["wait", "--timeout", "2", "a"], id="wait"),
    pytest.param(["kill", "a"], id="kill"),
    pytest.param(["start", "a", "b"], id="start"),
    pytest.param(["pause", "a"], id="pause"),
    pytest.param(["inspect", "--json", "a", "b"], id="inspect"),
    pytest.param(["create", "--rm", "-n", "c", "--cap", "filesystem", "img", "x"], id="create-rm"),
]

#: Command lines it leaves to argparse (some argparse accepts, some it refuses).
DECLINED = [
    pytest.param(["ps", "--help"], id="help"),
    pytest.param(["ps", "-h"], id="h"),
    pytest.param(["ps", "--al"], id="abbreviation"),
    pytest.param(["ps", "-aq"], id="grouped-flags"),
    pytest.param(["ps", "abc", "-a"], id="option-after-positional"),
    pytest.param(["ps", "--bogus"], id="unknown-option"),
    pytest.param(["ps", "--all=1"], id="flag-with-value"),
    pytest.param(["ps", "a", "b"], id="too-many-positionals"),
    pytest.param(["logs", "-n", "x", "c1"], id="type-error"),
    pytest.param(["logs", "c1", "-n"], id="missing-value"),
    pytest.param(["run"], id="missing-image"),
    pytest.param(["run", "--", "img"], id="double-dash"),
    pytest.param(["run", "-e", "-x", "img"], id="value-like-an-option"),
    pytest.param(["rm"], id="missing-ids"),
    pytest.param(["run", "img", "--c=d"], id="arg-abbreviating-two-options"),
    pytest.param(["run", "img", "--h"], id="arg-abbreviating-two-top-options"),
    pytest.param(["--bogus", "ps"], id="unknown-global-option"),
]


def _comparable(namespace: Any) -> dict[str, Any]:
    """vars(), with handlers compared by code and captured values (each parse builds its own)."""

    def same(value: Any) -> Any:
        if callable(value):
            cells = tuple(c.cell_contents for c in getattr(value, "__closure__", None) or ())
            return (value.__code__, cells)
        return value

    return {k: same(v) for k, v in vars(namespace).items()}


def _argparse(argv: list[str]) -> argparse.Namespace:
    verb = next(w for w in argv if w in FAST_VERBS)
    return build_parser(FAST_VERBS[verb], verb).parse_args(argv)


@pytest.mark.parametrize("argv", ACCEPTED)
def test_the_fast_parser_reads_as_argparse_does(argv: list[str]) -> None:
    verb = next(w for w in argv if w in FAST_VERBS)
    fast = fast_parse(argv, verb)
    assert fast is not None, "declined"
    assert _comparable(fast) == _comparable(_argparse(argv))


@pytest.mark.parametrize("argv", DECLINED)
def test_everything_else_is_left_to_argparse(argv: list[str]) -> None:
    verb = next((w for w in argv if w in FAST_VERBS), "ps")
    assert fast_parse(argv, verb) is None


def test_remainder_is_argparses() -> None:
    assert fastparse.REMAINDER == argparse.REMAINDER


def test_unsupported_declarations_turn_the_verb_over_to_argparse() -> None:
    top, verbs = fastparse.Command(), fastparse.Recorder()
    cmd = verbs.add_parser("x")
    cmd.add_argument("-c", action="count")
    assert not cmd.supported and fastparse.parse(["x"], top, verbs) is None


def test_help_usage_errors_and_suggestions_still_come_from_argparse(
    ocre_cli: Callable[..., Any],
) -> None:
    r = ocre_cli("ps", "--help")
    assert r.code == 0 and r.out.startswith("usage: ocre ps ") and "--all" in r.out
    r = ocre_cli("ps", "--bogus")
    assert r.code == 2 and r.err == "ocre: error: unrecognized arguments: --bogus\n"
    r = ocre_cli("logs", "-n", "many", "c1")
    assert r.code == 2 and "argument -n/--tail: invalid int value: 'many'" in r.err
    r = ocre_cli("run")
    assert r.code == 2 and "the following arguments are required: IMAGE" in r.err
    r = ocre_cli("pss")
    assert r.code == 2 and r.err.endswith("(did you mean 'ps'?)\n"), r.err
