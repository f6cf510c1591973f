"""Signature policy: whether images must be signed before they run or deploy, and the one check.

Precedence, resolved by :func:`effective_policy`: ``--require-signature`` on the command line, then
the workdir's ``config.json`` (``{"trust": {"require-signature": true}}``, set with ``ocre trust set
require-signature on``), else off. The workdir setting makes a device refuse unsigned images
without every caller remembering a flag.

Every path that runs or deploys an image (``run``, ``run -d``, ``create``, ``zephyr deploy`` to a
board, QEMU, native_sim or the Linux runtime, ``daemon images import``) goes through
:func:`require_signature` for store images and :func:`refuse_unsigned_file` for bare modules.
"""

from __future__ import annotations

import os

from ocre_py.errors import ImageError, InvalidInput
from ocre_py.values import Value
from ocre_py.workdir import workdir_text

TYPE_CHECKING = False  # not typing's: an attached `ocre run` checks the policy at start-up
if TYPE_CHECKING:
    from pathlib import Path

    from ocre_py.image.store import ImageStore

CONFIG_NAME = "config.json"
SETTINGS = ("require-signature",)


class TrustPolicy(Value):
    """Whether a signature is required, by which keys (empty: every key in the key dir), and why.

    A :class:`~ocre_py.values.Value`, not a dataclass, and this module imports neither :mod:`json`
    nor :mod:`pathlib` until it reads a policy file: every run checks the policy, an attached
    ``ocre run`` at start-up (issue 14)."""

    __slots__ = ("keys", "origin", "require_signature")

    def __init__(
        self, require_signature: bool = False, keys: tuple[str, ...] = (), origin: str = "default"
    ) -> None:
        self.require_signature = require_signature
        self.keys = keys
        self.origin = origin

    @property
    def hint(self) -> str:
        if self.origin == "--require-signature":
            return "sign it: ocre image sign REF --key NAME"
        return "sign it (ocre image sign REF --key NAME), or: ocre trust set require-signature off"


def _config_file(workdir: str | os.PathLike[str] | None) -> str:
    return os.path.join(os.fspath(workdir) if workdir is not None else workdir_text()[0], CONFIG_NAME)


def config_path(workdir: Path | None = None) -> Path:
    from pathlib import Path

    return Path(_config_file(workdir))


def _read(path: str) -> dict[str, object]:
    if not os.path.isfile(path):
        return {}
    import json

    try:
        with open(path) as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or not isinstance(doc.get("trust", {}), dict):
            raise TypeError
    except (ValueError, TypeError):
        raise InvalidInput.field(
            path, "trust", "unreadable", '{"trust": {"require-signature": true}}'
        ) from None
    return doc


def load_policy(workdir: Path | None = None) -> TrustPolicy:
    """The workdir's own policy (``config.json``), off when the file or the setting is absent."""
    path = _config_file(workdir)
    trust = _read(path).get("trust") or {}
    assert isinstance(trust, dict)
    value = trust.get("require-signature", False)
    if not isinstance(value, bool):
        raise InvalidInput.field(path, "trust.require-signature", value, "true or false")
    return TrustPolicy(value, origin=path if value else "default")


def set_require_signature(on: bool, workdir: Path | None = None) -> Path:
    """Write the workdir's policy (atomically, keeping any other settings); return the file."""
    import json

    from ocre_py.fsutil import atomic_write

    path = config_path(workdir)
    doc = _read(str(path))
    trust = dict(doc.get("trust") or {})  # type: ignore[call-overload]
    trust["require-signature"] = on
    doc["trust"] = trust
    atomic_write(path, json.dumps(doc, indent=2, sort_keys=True) + "\n", what="the trust policy")
    return path


def effective_policy(
    require: bool = False, keys: list[str] | tuple[str, ...] | None = None, *, workdir: Path | None = None
) -> TrustPolicy:
    """The command line's ``--require-signature`` (and ``--key``), else the workdir's policy."""
    if require:
        return TrustPolicy(True, tuple(keys or ()), "--require-signature")
    policy = load_policy(workdir)
    return TrustPolicy(policy.require_signature, tuple(keys or ()), policy.origin)


def require_signature(store: ImageStore, ref: str, policy: TrustPolicy) -> str | None:
    """The one check: with the policy on, ``ref`` must carry a signature a trusted key verifies.

    Returns the key id that signed it (None when the policy is off); raises :class:`ImageError`
    naming the image and where the requirement came from.
    """
    if not policy.require_signature:
        return None
    from ocre_py.image.signing import trusted_keys, verify

    try:
        return verify(store, ref, trusted_keys(list(policy.keys) or None))
    except ImageError as exc:
        raise ImageError(f"{exc.message}; refusing it ({_why(policy)})", hint=policy.hint) from None


def refuse_unsigned_file(source: str, policy: TrustPolicy) -> None:
    """A bare ``.wasm`` carries no signature: with the policy on it is refused."""
    if policy.require_signature:
        raise InvalidInput.field(
            None, "image", source, f"a signed image from the store ({_why(policy)})", hint=policy.hint
        )


def _why(policy: TrustPolicy) -> str:
    return (
        policy.origin if policy.origin == "--require-signature" else f"require-signature in {policy.origin}"
    )
