"""``ocre.yaml``: the file that describes a container image, validated with a pykwalify schema.

pykwalify reports every problem at once and logs them to stderr as well; we silence its logger and
turn the first problem into one line that names the file, the field, the value and what was
expected (the schema's ``desc``), which is what a user needs to fix it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ocre_py.errors import InvalidInput
from ocre_py.units import parse_size

log = logging.getLogger(__name__)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
SCHEMA_PATH = Path(__file__).with_name("ocre_yaml.schema.yaml")


@dataclass(frozen=True)
class ContainerSpec:
    """A validated ``ocre.yaml``; paths are resolved against the file's directory."""

    name: str
    version: str | None = None
    wasm: Path | None = None
    sources: tuple[Path, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    memory: int | None = None
    labels: dict[str, str] = field(default_factory=dict)


def _schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _expected(schema: dict[str, Any], path: str) -> str:
    top = path.strip("/").split("/")[0]
    entry = schema["mapping"].get(top)
    return entry.get("desc", "a valid value") if entry else "a valid value"


def validate(data: object, *, source: str) -> None:
    """Check ``data`` against the schema; raise :class:`InvalidInput` for the first problem."""
    from pykwalify.core import Core

    schema = _schema()
    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    core = Core(source_data=data, schema_data=schema)
    core.validate(raise_exception=False)
    if not core.errors:
        return
    err = core.errors[0]
    info = vars(err)
    path = info.get("path") or ""
    msg = str(info.get("msg", ""))
    if "required key" in msg:
        raise InvalidInput.field(source, "field", info.get("key"), "to be present")
    if "was not defined" in msg:  # an unknown key
        known = ", ".join(schema["mapping"])
        raise InvalidInput.field(source, "field", info.get("key"), f"one of {known}")
    where = path.strip("/").replace("/", ".") or "document"
    value = info.get("value")
    if isinstance(value, bytes):  # pykwalify hands some scalars back encoded
        value = value.decode(errors="replace")
    raise InvalidInput.field(source, where, value, _expected(schema, path))


def load_spec(path: str | Path) -> ContainerSpec:
    """Read and validate ``ocre.yaml``."""
    path = Path(path)
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InvalidInput.field(None, "file", source, "an existing ocre.yaml") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{source}: not UTF-8 text (byte {exc.start}): expected a YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
        raise InvalidInput(f"{source}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise InvalidInput.field(source, "document", type(data).__name__, "a mapping of fields")
    if "name" not in data:
        raise InvalidInput.field(source, "field", "name", "to be present (the image name)")
    validate(data, source=source)
    data = {k: v for k, v in data.items() if v is not None}  # "wasm:" with no value means no wasm
    if not isinstance(data.get("name"), str):
        raise InvalidInput.field(source, "name", data.get("name"), "the image name")
    if "sources" in data and not data["sources"]:
        raise InvalidInput.field(source, "sources", [], "at least one C source file")
    if ("wasm" in data) == ("sources" in data):
        raise InvalidInput.field(
            source, "wasm/sources", "both" if "wasm" in data else "neither", "exactly one of them"
        )
    if "version" in data and not _TAG.fullmatch(str(data["version"])):
        raise InvalidInput.field(source, "version", str(data["version"]), _expected(_schema(), "/version"))
    base = path.parent
    memory = parse_size(str(data["memory"]), what=f"{source}: memory") if "memory" in data else None
    return ContainerSpec(
        name=data["name"],
        version=str(data["version"]) if "version" in data else None,
        wasm=base / data["wasm"] if "wasm" in data else None,
        sources=tuple(base / s for s in data.get("sources") or ()),
        args=tuple(str(a) for a in data.get("args") or ()),
        env=tuple(f"{k}={v}" for k, v in (data.get("env") or {}).items()),
        capabilities=tuple(data.get("capabilities") or ()),
        memory=memory,
        labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
    )
