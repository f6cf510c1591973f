"""The plain command lines of the client verbs, parsed as argparse would, without importing argparse.

argparse costs ~8 ms before it parses anything (its import, a gettext look-up per help string, a
formatter per argument): a third of what ``ocre ps`` may take (issue 14, 2.5× an empty
interpreter). The verbs still declare their options once, with the usual ``add_parser`` /
``add_argument`` / ``set_defaults`` calls: :class:`Recorder` takes those calls and keeps the
options, and :func:`parse` reads a command line with them.

It accepts only what has one reading: known options spelled out (``-a``, ``--all``,
``--name=x``, ``-n x``), then the positionals, then — for a ``REMAINDER`` positional such as
``run``'s container arguments — anything. Everything else returns None and the caller parses with
argparse, which then does what it does: ``--help``, an unknown, abbreviated or grouped option
(``-aq``), ``--``, an option value that starts with ``-``, an option after a positional, a missing
argument or a type error, each with argparse's own message and exit code. The namespace has the
same attributes and values as argparse's; ``tests/test_fastparse.py`` compares the two.
"""

from __future__ import annotations

from types import SimpleNamespace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

#: ``argparse.REMAINDER`` (the value is argparse's; a test holds them equal).
REMAINDER = "..."
_ACTIONS = (None, "store", "store_true", "append")
_NARGS = (None, "?", "+", REMAINDER)


class _Option:
    __slots__ = ("action", "choices", "default", "dest", "flags", "nargs", "type")

    def __init__(self, flags: tuple[str, ...], kwargs: dict[str, Any]) -> None:
        self.flags = flags
        self.action = kwargs.get("action")
        self.nargs = kwargs.get("nargs")
        self.type: Callable[[str], Any] | None = kwargs.get("type")
        self.choices = kwargs.get("choices")
        if "dest" in kwargs:
            self.dest = kwargs["dest"]
        elif not flags[0].startswith("-"):
            self.dest = flags[0]
        else:
            name = next((f for f in flags if f.startswith("--")), flags[0])
            self.dest = name.lstrip("-").replace("-", "_")
        self.default = kwargs.get("default", False if self.action == "store_true" else None)

    def value(self, text: str) -> Any:
        """``text`` converted as argparse would; ValueError where argparse would report an error."""
        value = self.type(text) if self.type is not None else text
        if self.choices is not None and value not in self.choices:
            raise ValueError(text)
        return value


class Command:
    """One verb's options as its ``add_argument`` calls declared them (argparse's parser API, the
    part the verbs use). ``supported`` turns False at anything :func:`parse` does not read."""

    def __init__(self) -> None:
        self.options: dict[str, _Option] = {}
        self.positionals: list[_Option] = []
        self.defaults: dict[str, Any] = {}
        self.supported = True

    def add_argument(self, *flags: str, **kwargs: Any) -> None:
        option = _Option(flags, kwargs)
        if (
            option.action not in _ACTIONS
            or option.nargs not in _NARGS
            or kwargs.get("required")
            or (option.type is not None and isinstance(option.default, str))  # argparse converts it
        ):
            self.supported = False
        if flags[0].startswith("-"):
            if option.nargs is not None:
                self.supported = False
            self.options.update(dict.fromkeys(flags, option))
        else:
            if option.type is not None or option.choices is not None:
                self.supported = False
            if self.positionals and self.positionals[-1].nargs is not None:
                self.supported = False  # only the last positional may take a variable count
            self.positionals.append(option)

    def set_defaults(self, **kwargs: Any) -> None:
        self.defaults.update(kwargs)

    def namespace(self) -> dict[str, Any]:
        """The values before any word is read: each option's default, then ``set_defaults``."""
        values = {o.dest: list(o.default) if o.action == "append" and o.default else o.default
                  for o in (*self.options.values(), *self.positionals)}  # fmt: skip
        values.update(self.defaults)
        return values


class Recorder:
    """Stands in for argparse's subparsers action: ``add_parser`` returns a :class:`Command`."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def add_parser(self, name: str, **kwargs: Any) -> Command:
        self.commands[name] = Command()
        return self.commands[name]


def parse(
    argv: Sequence[str], top: Command, verbs: Recorder, dest: str = "command"
) -> SimpleNamespace | None:
    """``ocre [GLOBAL OPTIONS] VERB [OPTIONS] [POSITIONALS]`` as argparse parses it with ``top``'s
    options and the verbs' (``dest`` is the subparsers' dest), or None: let argparse decide."""
    if "--" in argv:
        return None
    values = top.namespace()
    rest = _options(argv, top, values)
    if rest is None or not rest or rest[0] not in verbs.commands:
        return None
    command = verbs.commands[rest[0]]
    if not (top.supported and command.supported):
        return None
    values[dest] = rest[0]
    words = list(rest[1:])
    if any(_ambiguous(w, top) for w in words):
        return None
    verb_values = command.namespace()
    remainder = bool(command.positionals) and command.positionals[-1].nargs == REMAINDER
    positional_words: list[str] = []
    while words:
        fixed = len(command.positionals) - 1
        if remainder and len(positional_words) == fixed:
            if any(_ambiguous(w, command) for w in words):
                return None
            positional_words.extend(words)  # REMAINDER: the rest, as it is
            break
        if _is_option(words[0]):
            if positional_words:
                return None  # an option after a positional: argparse's rules, not ours
            left = _options(words, command, verb_values)
            if left is None:
                return None
            words = left
        else:
            positional_words.append(words.pop(0))
    if not _positionals(command, positional_words, verb_values):
        return None
    values.update(verb_values)  # as argparse does: the verb's namespace over the top one
    return SimpleNamespace(**values)


def _ambiguous(word: str, command: Command) -> bool:
    """Whether argparse refuses ``word`` as an abbreviation of two of ``command``'s long options:
    a parser classifies every word it is given, those a REMAINDER takes included (and the top
    parser every word of the command line), and its ``-h``/``--help`` count too."""
    name = word.partition("=")[0]
    if not name.startswith("--") or name in command.options or name == "--help":
        return False
    return sum(o.startswith(name) for o in (*command.options, "--help")) > 1


def _is_option(word: str) -> bool:
    return word.startswith("-") and word != "-"  # argparse reads a lone "-" as a positional


def _options(words: Sequence[str], command: Command, values: dict[str, Any]) -> list[str] | None:
    """Read leading options into ``values``; the words left from the first positional on (None:
    something argparse should handle)."""
    words = list(words)
    while words and _is_option(words[0]):
        word = words.pop(0)
        name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        option = command.options.get(name)
        if option is None:
            return None  # -h/--help, unknown, abbreviated or grouped: argparse's
        if option.action == "store_true":
            if eq:
                return None
            values[option.dest] = True
            continue
        if eq:
            text = inline
        elif words and not words[0].startswith("-"):
            text = words.pop(0)
        else:
            return None  # a missing value, or one argparse may read as an option
        try:
            value = option.value(text)
        except (ValueError, TypeError):
            return None
        if option.action == "append":
            values[option.dest] = [*(values[option.dest] or ()), value]
        else:
            values[option.dest] = value
    return words


def _positionals(command: Command, words: list[str], values: dict[str, Any]) -> bool:
    """Give each positional its words; False when the count is not what argparse accepts."""
    fixed = command.positionals[:-1] if command.positionals else []
    if len(words) < len(fixed) or (not command.positionals and words):
        return False
    for option, word in zip(fixed, words, strict=False):
        values[option.dest] = word
    if not command.positionals:
        return True
    last, tail = command.positionals[-1], words[len(fixed) :]
    counts = {None: len(tail) == 1, "?": len(tail) <= 1, "+": len(tail) >= 1, REMAINDER: True}
    if not counts[last.nargs]:
        return False
    if last.nargs is None:
        values[last.dest] = tail[0]
    elif last.nargs == "?":
        values[last.dest] = tail[0] if tail else last.default
    else:
        values[last.dest] = tail
    return True
