"""Deployment files: YAML in, checked :class:`~ocre_py.fleet.protocol.Deployment` objects out.

A file holds one deployment mapping, a list of them, or ``deployments: [...]``, in one or more
YAML documents. Each is checked three times, each check one line naming the file and field: the
pykwalify schema (``deployment.schema.yaml``: shapes and types), the protocol's own bounds
(:meth:`Deployment.from_dict`), and the create-request checks a member's daemon will apply
(capabilities, env, memory, restart), so a typo fails at the desk instead of on every device.

:func:`pin` then resolves the image's tag to the registry's manifest digest: every member pulls
the same content, and re-applying after a new push is a new generation that rolls out.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ocre_py.errors import ImageError, InvalidInput, NotFound, RegistryError
from ocre_py.fleet.protocol import MAX_DEPLOYMENTS, Deployment, encode

SCHEMA = Path(__file__).with_name("deployment.schema.yaml")


def load_file(path: Path) -> list[Deployment]:
    """The deployments of ``path``, checked; not pinned yet (no network)."""
    from ocre_py.yaml_schema import load_yaml_documents, validate

    entries: list[Any] = []
    for doc in load_yaml_documents(path, what="deployment file"):
        if isinstance(doc, list):
            entries.extend(doc)
        elif isinstance(doc, dict) and set(doc) == {"deployments"}:
            if not isinstance(doc["deployments"], list):
                raise InvalidInput.field(
                    str(path), "deployments", doc["deployments"], "a list of deployments"
                )
            entries.extend(doc["deployments"])
        else:
            entries.append(doc)
    if not entries:
        raise InvalidInput(f"{path}: no deployments in the file")
    if len(entries) > MAX_DEPLOYMENTS:
        raise InvalidInput(
            f"{path}: {len(entries)} deployments: expected at most {MAX_DEPLOYMENTS} (what members run)"
        )
    out: list[Deployment] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where = f"{path}: deployments[{i}]" if len(entries) > 1 else str(path)
        validate(entry, SCHEMA, source=where)
        d = _check(_normalise(entry, where), where)
        if d.name in seen:
            raise InvalidInput(f"{where}: name '{d.name}' is already used by {seen[d.name]}")
        seen[d.name] = where
        out.append(d)
    return out


def _normalise(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """YAML's conveniences into the protocol's shapes: numbers as strings, env as a mapping."""
    data = dict(entry)
    if "args" in data:
        data["args"] = [str(a) for a in data["args"] or []]
    if data.get("memory") is not None:
        data["memory"] = str(data["memory"])
    env = data.get("env")
    if isinstance(env, dict):
        for key, value in env.items():
            if not isinstance(key, str) or isinstance(value, dict | list) or value is None:
                raise InvalidInput.field(where, f"env.{key}", value, "a string value")
        data["env"] = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in env.items()]
    elif env is not None and not (isinstance(env, list) and all(isinstance(e, str) for e in env)):
        raise InvalidInput.field(where, "env", env, "a list of KEY=VALUE strings or a mapping")
    return data


def _check(data: dict[str, Any], where: str) -> Deployment:
    from ocre_py.daemon.requests import create_request
    from ocre_py.image.reference import parse_reference
    from ocre_py.units import parse_size

    try:
        d = Deployment.from_dict(data, "deployment")
        ref = parse_reference(d.image, what=f"deployment '{d.name}' image")
        if not ref.registry:
            raise InvalidInput.field(
                None,
                f"deployment '{d.name}' image",
                d.image,
                "HOST[:PORT]/NAME[:TAG]: a registry members pull from",
            )
        if d.memory is not None:
            parse_size(d.memory, what=f"deployment '{d.name}' memory")
        create_request(args=d.args, env=d.env, capabilities=d.capabilities, restart=d.restart)
        try:  # the message members read fits its bound (a rollout plan adds to it at apply)
            encode(d.to_message())
        except InvalidInput as exc:
            raise InvalidInput(
                f"deployment '{d.name}': {exc.message}; expected its args, env, capabilities and "
                "bridge to fit together"
            ) from None
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}", hint=exc.hint) from None
    return d


def pin(d: Deployment) -> Deployment:
    """``d`` pinned to a manifest digest: its own ``digest``, the reference's ``@sha256:…``, or
    what the registry's tag points to now (a GET of the manifest; loopback registries are plain
    HTTP, like ``ocre image pull``)."""
    from ocre_py.image import mediatypes as mt
    from ocre_py.image.digests import digest_of
    from ocre_py.image.distribution import registry_for
    from ocre_py.image.reference import parse_reference

    ref = parse_reference(d.image)
    digest = d.digest or ref.digest
    if digest is None:
        try:
            data, _, _ = registry_for(ref).get_manifest(
                ref.repository, ref.tag or "latest", mt.MANIFEST_ACCEPT
            )
        except (RegistryError, NotFound, ImageError) as exc:
            raise type(exc)(f"deployment '{d.name}': {exc.message}", hint=exc.hint) from None
        digest = digest_of(data)
    return replace(d, digest=digest).with_generation()
