"""One root exception for the toolkit, with one family per room.

Every error carries a one-line ``message`` and an optional ``hint`` (how to fix it), kept apart so the
CLI can render them consistently and tests can check the fields. ``exit_code`` is what the CLI exits
with: 2 for bad input from the user (file, field, value), 1 for an operation that failed.
"""

from __future__ import annotations

import errno


class OcreError(Exception):
    """Root of every error the toolkit raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidInput(OcreError, ValueError):
    """Bad input from the user: a file, field or value that is not what was expected."""

    exit_code = 2

    @classmethod
    def field(
        cls, source: str | None, field: str, value: object, expected: str, *, hint: str | None = None
    ) -> InvalidInput:
        """Build the standard message: ``<source>: <field> <value>: expected <expected>``."""
        where = f"{source}: " if source else ""
        return cls(f"{where}{field} {value!r}: expected {expected}", hint=hint)  # repr: no raw newlines


class MissingProgram(OcreError, FileNotFoundError):
    """A required external program or package is not installed."""

    def __init__(self, program: str, *, packages: str | None = None) -> None:
        hint = f"install it with: apt-get install {packages}" if packages else "install it or add it to PATH"
        super().__init__(f"required program '{program}' not found", hint=hint)
        self.program = program


class NotFound(OcreError, LookupError):
    """A named thing (container, image, board, blob) does not exist."""


class Conflict(OcreError):
    """The request clashes with existing state (duplicate name, container in use, wrong state)."""


# One family per room; subclasses of these may add fields.
class BuildError(OcreError):
    """Compiling a container or firmware failed."""


class ContainerError(OcreError):
    """A container operation on the Linux runtime failed."""


class ImageError(OcreError):
    """An image is malformed, missing or fails verification."""


class RegistryError(OcreError):
    """A registry request failed."""


class BoardError(OcreError):
    """A board is unknown or its data is invalid."""


class DeployError(OcreError):
    """Packing or deploying containers to a target failed."""


class DaemonError(OcreError):
    """The daemon could not be reached or refused a request."""


class FleetError(OcreError):
    """The fleet's broker could not be reached, or a rollout failed on a member."""


class NoSpace(OcreError, OSError):
    """A write failed because the filesystem is full (or over quota); names the path and the data."""

    def __init__(self, path: str, what: str, *, errno_: int | None = None) -> None:
        reason = "disk quota exceeded" if errno_ == errno.EDQUOT else "no space left on device"
        super().__init__(
            f"{reason} writing {what} to {path}; nothing was replaced",
            hint="free some space (ocre image prune removes unused blobs) and try again",
        )
        self.path = path
        self.what = what
