"""The create request: the JSON a client sends to make a container, checked field by field.

The daemon keeps the checked request in the container's record and re-creates the container from
it after a restart, so everything here must be plain JSON. Host paths (mounts) are checked on the
daemon's side, where they are used; the client only checks syntax.
"""

from __future__ import annotations

from ocre_py.daemon.policy import RestartPolicy
from ocre_py.daemon.validate import MAX_SECONDS, finite_number
from ocre_py.errors import InvalidInput
from ocre_py.names import check_name
from ocre_py.runtime.options import check_capabilities, parse_addr_pool, parse_env
from ocre_py.units import parse_duration, parse_size

TYPE_CHECKING = False  # not typing's: clients build requests at start-up (issue 14)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any

    from ocre_py.runtime.spec import ContainerSpec, StdioTarget

_HEX = frozenset("0123456789abcdef")
_LISTS = ("args", "env", "capabilities", "mounts", "addr_pool")
_FIELDS = {
    "image",
    "name",
    *_LISTS,
    "memory_limit",
    "timeout",
    "cpu_budget",
    "labels",
    "restart",
    "runtime",
    "auto_remove",
}


def check_runtime(runtime: object) -> None:
    """``runtime`` is None or one of the runtime's engines (the engine module loads only then)."""
    if runtime is None:
        return
    from ocre_py.runtime import RUNTIMES

    if runtime not in RUNTIMES:
        raise InvalidInput.field(None, "runtime", runtime, f"one of {', '.join(RUNTIMES)}")


def _str_list(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput.field(None, key, value, "a list of strings")
    return list(value)


#: The largest value each number field takes: a wasm32 memory holds at most 4 GiB, and
#: ``threading.Timer`` refuses waits past ``threading.TIMEOUT_MAX`` (1e9 s is about 31 years).
LIMITS: dict[str, float] = {"memory_limit": 2**32, "timeout": MAX_SECONDS, "cpu_budget": MAX_SECONDS}


def _positive(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if value is None:
        return None
    return kind(finite_number(key, value, low=0.0, high=LIMITS[key], low_open=True))


def normalize(data: object, *, stored: bool = False) -> dict[str, Any]:
    """Check a create request and return it in canonical form (raises InvalidInput naming the field).

    ``stored``: a container's record, which also holds the digest the daemon pinned (:mod:`.blobs`);
    a client cannot send one.
    """
    if not isinstance(data, dict):
        raise InvalidInput.field(None, "request body", type(data).__name__, "a JSON object")
    unknown = sorted(set(data) - _FIELDS - {"start"} - ({"digest"} if stored else set()))
    if unknown:
        raise InvalidInput.field(None, "request field", unknown[0], f"one of {', '.join(sorted(_FIELDS))}")
    image = data.get("image")
    if not isinstance(image, str):
        raise InvalidInput.field(None, "image", image, "an image name in the daemon's images directory")
    check_name(image, what="image name")
    name = data.get("name")
    if name is not None:
        check_name(name, what="container ID")
    runtime = data.get("runtime")
    check_runtime(runtime)
    lists = {key: _str_list(data, key) for key in _LISTS}
    parse_env(lists["env"])
    lists["capabilities"] = list(check_capabilities(lists["capabilities"]))
    lists["mounts"] = _mounts(lists["mounts"])
    lists["addr_pool"] = list(parse_addr_pool(lists["addr_pool"]))
    labels = data.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise InvalidInput.field(None, "labels", labels, "an object of string values")
    restart = str(RestartPolicy.parse(data.get("restart")))
    auto_remove = data.get("auto_remove", False)
    if not isinstance(auto_remove, bool):
        raise InvalidInput.field(None, "auto_remove", auto_remove, "true or false")
    if auto_remove and restart != "no":
        raise InvalidInput.field(None, "restart policy", restart, "'no' with --rm (removed when it exits)")
    digest = data.get("digest")
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64 and _HEX.issuperset(digest)):
        raise InvalidInput.field(None, "digest", digest, "64 lowercase hex digits (SHA-256)")
    return {
        "image": image,
        "name": name,
        **({"digest": digest} if digest else {}),
        **lists,
        "memory_limit": _positive(data, "memory_limit", int),
        "timeout": _positive(data, "timeout", float),
        "cpu_budget": _positive(data, "cpu_budget", float),
        "labels": {str(k): v for k, v in labels.items()},
        "restart": restart,
        "runtime": runtime,
        "auto_remove": auto_remove,
    }


def to_spec(
    request: dict[str, Any], cid: str, sink: StdioTarget, *, module_path: Path | None = None
) -> ContainerSpec:
    """The runtime spec for a daemon container: detached, no stdin, stdout+stderr into ``sink``;
    the module is ``module_path`` (a pinned blob, :mod:`.blobs`) or ``<workdir>/images/<image>``."""
    from ocre_py.runtime.spec import ContainerSpec, Mount

    return ContainerSpec(
        image=request["image"],
        module_path=module_path,
        name=cid,
        args=tuple(request["args"]),
        env=tuple(request["env"]),
        capabilities=tuple(request["capabilities"]),
        mounts=tuple(Mount.parse(m) for m in request["mounts"]),
        addr_pool=tuple(request.get("addr_pool", ())),
        memory_limit=request["memory_limit"],
        timeout=request["timeout"],
        cpu_budget=request["cpu_budget"],
        detached=True,
        stdin=None,
        stdout=sink,
        stderr=sink,
        labels=dict(request["labels"]),
    )


def _mounts(items: Sequence[str]) -> list[str]:
    """``HOST:GUEST`` entries in canonical form, checked by the runtime's :class:`Mount` (its
    module, a dataclass's, loads only when there is a mount: clients build requests at start-up)."""
    if not items:
        return []
    from ocre_py.runtime.spec import Mount

    return [str(Mount.parse(m)) for m in items]


def image_path(images_dir: Path, name: str) -> Path:
    return images_dir / check_name(name, what="image name")


def create_request(
    *,
    name: str | None = None,
    args: Sequence[str] = (),
    env: Sequence[str] = (),
    capabilities: Sequence[str] = (),
    mounts: Sequence[str] = (),
    addr_pool: Sequence[str] = (),
    memory: str | None = None,
    timeout: str | None = None,
    cpu_budget: str | None = None,
    restart: str | None = None,
    labels: Sequence[str] = (),
    runtime: str | None = None,
    auto_remove: bool = False,
) -> dict[str, Any]:
    """A create request from the options as users type them (``ocre run -d``, ``create``, a deploy
    to the daemon): the one builder, so every client sends the same fields. Syntax is checked here,
    paths on the daemon."""
    if name is not None:
        check_name(name, what="container ID")
    check_runtime(runtime)
    label_map = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput.field(None, "label", item, "KEY=VALUE")
        label_map[key] = value
    return {
        "name": name,
        "args": list(args),
        "env": parse_env(list(env)),
        "capabilities": list(check_capabilities(list(capabilities))),
        "mounts": _mounts(mounts),
        "addr_pool": list(parse_addr_pool(addr_pool)),
        "memory_limit": parse_size(memory, what="--memory") if memory else None,
        "timeout": parse_duration(timeout, what="--timeout") if timeout else None,
        "cpu_budget": parse_duration(cpu_budget, what="--cpu-budget") if cpu_budget else None,
        "restart": str(RestartPolicy.parse(restart)),
        "labels": label_map,
        "runtime": runtime,
        "auto_remove": auto_remove,
    }
