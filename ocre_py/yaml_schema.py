"""Loading YAML and validating it with pykwalify, turning its errors into one line of ours.

pykwalify logs its errors to stderr while raising (toolchain.md); its logger is silenced here and
the first error becomes an :class:`InvalidInput` naming the file, the field path and the problem.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Any

import yaml

from ocre_py.errors import InvalidInput


def load_yaml(path: Path, *, what: str) -> Any:
    """Parse YAML with PyYAML's C loader when present (fast), naming the file on a syntax error."""
    return _parse(path, what, documents=False)


def load_yaml_documents(path: Path, *, what: str) -> list[Any]:
    """Every document of a multi-document YAML file (``---`` separated), empty ones left out."""
    return [doc for doc in _parse(path, what, documents=True) if doc is not None]


def _parse(path: Path, what: str, *, documents: bool) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: {what} is a directory, expected a file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: {what} is not UTF-8 text (byte {exc.start})") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return list(yaml.load_all(text, Loader=loader)) if documents else yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
        raise InvalidInput(f"{where}: not valid YAML: {problem}") from None


@functools.cache
def _schema(schema_path: str) -> Any:
    return load_yaml(Path(schema_path), what="schema")


_PATH_RE = re.compile(r"Path: '([^']*)'")
_TYPE_RE = re.compile(r"Value '(.*)' is not of type '(\w+)'")
_ENUM_RE = re.compile(r"Enum '(.*)' does not exist\.[\s.]*Enum: \[(.*)\]")
_KEY_RE = re.compile(r"Key '(.*)' was not defined")
_REQ_RE = re.compile(r"Cannot find required key '(.*)'")
_TYPE_NAMES = {"bool": "true or false", "str": "a string", "int": "an integer", "map": "a mapping",
               "seq": "a list"}  # fmt: skip


def _field(path: str) -> str:
    out = ""
    for part in [p for p in path.split("/") if p]:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _allowed_keys(schema: Any, path: str) -> list[str]:
    node = schema
    for part in [p for p in path.split("/") if p]:
        if node.get("type") == "seq":
            node = node["sequence"][0]
        if part.isdigit():
            continue
        node = node.get("mapping", {}).get(part, {})
    if node.get("type") == "seq":
        node = node["sequence"][0]
    return [k for k in node.get("mapping", {}) if not k.startswith("regex;")]


def _message(error: str, schema: Any) -> str:
    m = _PATH_RE.search(error)
    path = m.group(1) if m else ""
    where = _field(path)
    error = re.sub(r"\s+", " ", _PATH_RE.sub("", error))
    if t := _TYPE_RE.search(error):
        return f"{where} '{t.group(1)}': expected {_TYPE_NAMES.get(t.group(2), t.group(2))}"
    if e := _ENUM_RE.search(error):
        allowed = ", ".join(v.strip().strip("'") for v in e.group(2).split(","))
        return f"{where} '{e.group(1)}': expected one of {allowed}"
    if k := _KEY_RE.search(error):
        name = f"{where}.{k.group(1)}" if where else k.group(1)
        return f"unknown key '{name}': expected one of {', '.join(_allowed_keys(schema, path))}"
    if r := _REQ_RE.search(error):
        return f"{where or 'document'}: missing required key '{r.group(1)}'"
    return f"{where or 'document'}: {error.strip().strip('.').strip()}"


def validate(data: Any, schema_path: Path, *, source: str) -> None:
    """Validate ``data`` against a pykwalify schema; raise one clear line on the first error."""
    from pykwalify.core import Core
    from pykwalify.errors import CoreError, SchemaError

    for name in ("pykwalify", "pykwalify.core", "pykwalify.rule"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    schema = _schema(str(schema_path))
    try:
        core = Core(source_data=data, schema_data=schema)
    except CoreError:  # pykwalify refuses an empty document before validating anything
        raise InvalidInput(f"{source}: document is empty: expected a mapping") from None
    try:
        core.validate(raise_exception=True)
    except SchemaError:
        errors = [str(e) for e in core.errors] or ["invalid"]
        raise InvalidInput(f"{source}: {_message(errors[0], schema)}") from None
