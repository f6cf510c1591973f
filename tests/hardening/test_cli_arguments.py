"""Property tests over the argument parsers users type into: only our clear errors come out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ocre_py.errors import InvalidInput
from ocre_py.names import is_valid_name
from ocre_py.runtime.spec import Mount, check_capabilities, parse_env
from ocre_py.units import parse_duration, parse_size

TEXT = st.text(max_size=40)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_size_parser_returns_positive_bytes_or_invalid_input(text: str) -> None:
    try:
        assert parse_size(text) > 0
    except InvalidInput as exc:
        assert "\n" not in exc.message and "expected" in exc.message


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_duration_parser(text: str) -> None:
    try:
        assert parse_duration(text) > 0
    except InvalidInput as exc:
        assert "expected" in exc.message


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_mount_parser_accepts_only_absolute_pairs(text: str) -> None:
    try:
        m = Mount.parse(text)
    except InvalidInput as exc:
        assert exc.message.startswith("mount ")
    else:
        assert str(m.host).startswith("/") and m.guest.startswith("/") and m.guest != "/"


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, max_size=4))
def test_env_and_capabilities(items: list[str]) -> None:
    for parse in (parse_env, check_capabilities):
        try:
            parse(items)
        except InvalidInput as exc:
            assert "expected" in exc.message


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_names_never_traverse(text: str) -> None:
    if is_valid_name(text):
        assert "/" not in text and not text.startswith(".") and text not in ("", "..")


@settings(max_examples=500, deadline=None)
@given(TEXT | st.text(alphabet="az09._-A/\n+", max_size=70), st.sampled_from([31, 63]))
def test_short_names_are_the_stored_formats_rule(text: str, limit: int) -> None:
    """The firmware's container names (31) and the fleet's topic-level names (63): the rule the
    formats were written with, ``[a-z0-9][a-z0-9_.-]{0,limit-1}`` matched whole."""
    import re

    from ocre_py.names import is_short_name

    rule = re.compile(rf"[a-z0-9][a-z0-9_.-]{{0,{limit - 1}}}")
    assert is_short_name(text, limit) == bool(rule.fullmatch(text))


def test_numbers_too_long_for_a_float_are_refused_not_crashed() -> None:
    """Found by fuzz_cli_args: 400 digits made float() say inf and int() raise OverflowError."""
    import pytest

    for parse in (parse_size, parse_duration):
        with pytest.raises(InvalidInput):
            parse("9" * 400)


def test_a_trailing_newline_does_not_pass_the_name_rule() -> None:
    """``re.match(r"...$")`` accepts "abc\\n"; names become file names and autostart fields."""
    from ocre_py.image.reference import parse_reference

    assert not is_valid_name("abc\n")
    for ref in ("a\n/b", "hello:1\n", "hello\n:1"):
        try:
            parse_reference(ref)
        except InvalidInput:
            continue
        raise AssertionError(f"{ref!r} accepted")
