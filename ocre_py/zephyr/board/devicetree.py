"""A small reader for the merged ``zephyr.dts`` a Zephyr build writes, used when Zephyr's dtlib is absent.

Why not PyPI ``devicetree``: it is a 2021 snapshot (0.0.2) and drifts from the tree a build used.
Why not always Zephyr's ``dtlib``: a deploy must work from a copied build directory on a machine
without a Zephyr checkout. So :func:`load` imports ``dtlib`` from ``$ZEPHYR_BASE`` when it is there
(exactly the parser that wrote the file) and otherwise parses the file itself. That is safe because
``B/zephyr/zephyr.dts`` is dtlib's own output: already preprocessed (no ``#include``, no macros),
one flat tree, numbers as ``<0x...>`` cells, strings, byte strings and ``&label`` references. This
reader also accepts ``&label { ... }`` overrides, ``/delete-node/`` and ``/delete-property/`` so that
hand-written board files in tests read the same way; it does no expression arithmetic.

Both back ends expose the same small surface: :class:`Tree` with ``label2node`` and nodes with
``name``, ``parent``, ``nodes`` and ``props``; a property's ``value`` is the big-endian byte
encoding dtlib uses, so geometry code reads cells identically from either.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocre_py.errors import InvalidInput

log = logging.getLogger(__name__)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<directive>/dts-v1/|/plugin/|/delete-node/|/delete-property/|/memreserve/)
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<ref>&\{[^}]*\}|&[A-Za-z_][A-Za-z0-9_]*)
  | (?P<label>[A-Za-z_][A-Za-z0-9_]*:)
  | (?P<word>[A-Za-z0-9,._+*#?@/-]+)
  | (?P<punct>[{}<>\[\];=,():])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class Prop:
    """One property; ``value`` is dtlib's byte encoding (cells big-endian, strings NUL-terminated)."""

    name: str
    value: bytes = b""
    #: labels referenced as phandles inside ``<...>``, in order (dtlib resolves them with ``to_node``)
    refs: list[str] = field(default_factory=list)
    #: why the value could not be read (an unexpanded macro...): raised when someone uses it
    error: str | None = None

    def to_nums(self) -> list[int]:
        return [int.from_bytes(self.value[i : i + 4], "big") for i in range(0, len(self.value) - 3, 4)]

    def to_num(self) -> int:
        nums = self.to_nums()
        if len(nums) != 1:
            raise ValueError(f"property '{self.name}' is not a single cell")
        return nums[0]

    def to_string(self) -> str:
        return self.value.split(b"\0", 1)[0].decode()


@dataclass(eq=False)
class Node:
    name: str
    parent: Node | None = None
    labels: list[str] = field(default_factory=list)
    props: dict[str, Prop] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)

    @property
    def path(self) -> str:
        if self.parent is None:
            return "/"
        parent = self.parent.path
        return f"{parent.rstrip('/')}/{self.name}"


@dataclass
class Tree:
    """A parsed devicetree: the root and its labels (the part of dtlib's ``DT`` geometry needs)."""

    root: Node
    label2node: dict[str, Any]
    source: str
    backend: str


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise self._error(pos, text, "unexpected character")
            kind = m.lastgroup or ""
            if kind != "ws":
                self.tokens.append((kind, m.group(), pos))
            pos = m.end()
        self.text = text
        self.i = 0
        self.root = Node("/")

    def _error(self, pos: int, text: str | None = None, what: str = "syntax error") -> InvalidInput:
        text = self.text if text is None else text
        line = text.count("\n", 0, pos) + 1
        what = what.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")  # one line
        return InvalidInput(f"{self.source}:{line}: {what}: expected a devicetree source (zephyr.dts)")

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("eof", "", len(self.text))

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok[0] == "eof" or (value is not None and tok[1] != value):
            raise self._error(tok[2], what=f"expected '{value}', found '{tok[1] or 'end of file'}'")
        self.i += 1
        return tok

    def parse(self) -> Tree:
        while self.peek()[0] != "eof":
            kind, value, pos = self.peek()
            if kind == "directive":
                self.take()
                if value == "/memreserve/":
                    while self.peek()[1] != ";":
                        self.take()
                elif value == "/delete-node/":
                    target = self.take()
                    node = self._resolve(target[1], target[2])
                    if node.parent is not None:
                        node.parent.nodes.pop(node.name, None)
                self.take(";")
            elif value == "/" or kind == "label":
                while self.peek()[0] == "label":
                    self.take()
                self.take("/")
                self._body(self.root)
            elif kind == "ref":
                self.take()
                node = self._resolve(value, pos)
                self._body(node)
            else:
                raise self._error(pos, what=f"unexpected '{value}'")
        labels: dict[str, Node] = {}
        stack = [self.root]
        while stack:
            node = stack.pop()
            for label in node.labels:
                labels[label] = node
            stack.extend(node.nodes.values())
        return Tree(self.root, labels, self.source, "ocre")

    def _resolve(self, ref: str, pos: int) -> Node:
        if ref.startswith("&{"):
            node = self.root
            for part in ref[2:-1].strip("/").split("/"):
                if part:
                    if part not in node.nodes:
                        raise self._error(pos, what=f"unknown node path '{ref}'")
                    node = node.nodes[part]
            return node
        label = ref.lstrip("&")
        stack = [self.root]
        while stack:
            node = stack.pop()
            if label in node.labels:
                return node
            stack.extend(node.nodes.values())
        raise self._error(pos, what=f"unknown label '{label}'")

    def _body(self, node: Node) -> None:
        self.take("{")
        while self.peek()[1] != "}":
            labels: list[str] = []
            while self.peek()[0] == "label":
                labels.append(self.take()[1][:-1])
            kind, value, pos = self.take()
            if kind == "directive" and value in ("/delete-node/", "/delete-property/"):
                name = self.take()[1]
                (node.nodes if value == "/delete-node/" else node.props).pop(name, None)
                self.take(";")
                continue
            if kind != "word":
                raise self._error(pos, what=f"unexpected '{value}'")
            nxt = self.peek()[1]
            if nxt == "{":
                child = node.nodes.get(value) or Node(value, node)
                node.nodes[value] = child
                child.labels.extend(x for x in labels if x not in child.labels)
                self._body(child)
            elif nxt == "=":
                self.take("=")
                refs: list[str] = []
                try:
                    node.props[value] = Prop(value, self._value(refs), refs)
                except InvalidInput as exc:
                    # Keep going: only a property geometry actually reads may fail the command.
                    while self.peek()[1] != ";" and self.peek()[0] != "eof":
                        self.take()
                    self.take(";")
                    node.props[value] = Prop(value, b"", refs, error=exc.message)
            elif nxt == ";":
                self.take(";")
                node.props[value] = Prop(value)
            else:
                raise self._error(self.peek()[2], what=f"unexpected '{nxt}' after '{value}'")
        self.take("}")
        self.take(";")

    def _value(self, refs: list[str]) -> bytes:
        out = bytearray()
        while True:
            while self.peek()[0] == "label":
                self.take()
            kind, value, pos = self.take()
            if kind == "string":
                try:
                    out += bytes(value[1:-1], "utf-8").decode("unicode_escape").encode("latin-1") + b"\0"
                except UnicodeError:  # "\x" cut short, or an escape beyond one byte ("\u0100")
                    raise self._error(pos, what="bad escape in a string") from None
            elif value == "<":
                while self.peek()[1] != ">":
                    k, v, p = self.take()
                    if k == "ref":
                        refs.append(v.lstrip("&"))
                        out += (0).to_bytes(4, "big")  # phandle values are not needed, the label is
                    elif k == "label":
                        continue
                    else:
                        out += self._cell(v, p).to_bytes(4, "big")
                self.take(">")
            elif value == "[":
                hexdigits = ""
                while self.peek()[1] != "]":
                    hexdigits += self.take()[1]
                self.take("]")
                try:
                    out += bytes.fromhex(hexdigits)
                except ValueError:
                    raise self._error(pos, what=f"bad byte string [{hexdigits[:20]}]") from None
            elif kind == "ref":
                out += value.lstrip("&").encode() + b"\0"
            elif value == "/bits/":
                width = self._cell(self.take()[1], pos)
                if width not in (8, 16, 32, 64):
                    raise self._error(pos, what=f"/bits/ {width}: expected 8, 16, 32 or 64")
                self.take("<")
                while self.peek()[1] != ">":
                    k, v, p = self.take()
                    number = 0 if k == "ref" else self._cell(v, p, bits=width)
                    out += number.to_bytes(width // 8, "big")
                self.take(">")
            else:
                raise self._error(pos, what=f"unexpected '{value}' in a property value")
            if self.peek()[1] == ",":
                self.take(",")
                continue
            self.take(";")
            return bytes(out)

    def _cell(self, text: str, pos: int, bits: int = 32) -> int:
        try:
            return int(text, 0) & ((1 << bits) - 1)
        except ValueError:
            raise self._error(
                pos, what=f"cell '{text}' is not a number (macros must be preprocessed)"
            ) from None


def parse(text: str, *, source: str = "<dts>") -> Tree:
    """Parse DTS text with the built-in reader (never Zephyr's dtlib)."""
    return _Parser(text, source).parse()


def _dtlib_from(zephyr_base: str | os.PathLike[str] | None) -> Any:
    if not zephyr_base:
        return None
    src = Path(zephyr_base) / "scripts" / "dts" / "python-devicetree" / "src"
    if not (src / "devicetree" / "dtlib.py").is_file():
        return None
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    from devicetree import dtlib  # type: ignore[import-not-found]

    return dtlib


def load(path: str | os.PathLike[str], *, zephyr_base: str | os.PathLike[str] | None = None) -> Tree:
    """Parse ``path`` with Zephyr's dtlib when ``zephyr_base`` (default ``$ZEPHYR_BASE``) has it, else ours.

    The fallback is logged at debug level so a user can see which parser read the file.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInput.field(None, "devicetree", str(p), "an existing zephyr.dts (build the app first)")
    dtlib = _dtlib_from(zephyr_base if zephyr_base is not None else os.environ.get("ZEPHYR_BASE"))
    if dtlib is not None:
        try:
            dt = dtlib.DT(str(p))
        except dtlib.DTError as exc:
            raise InvalidInput(f"{p}: {exc}: expected a devicetree source (zephyr.dts)") from None
        log.debug("parsed %s with Zephyr's dtlib", p)
        return Tree(dt.root, dt.label2node, str(p), "dtlib")
    return parse(p.read_text(encoding="utf-8"), source=str(p))
