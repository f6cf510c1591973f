"""The autostart file: which containers ``zephyr_app/src/main.c`` starts at boot.

``deploy`` writes it into the storage partition at ``/lfs/ocre/autostart``; the firmware reads it
line by line with nothing more than ``fs_read`` and ``strtok``-style splitting, which is why it is a
plain, versioned text format rather than JSON (no parser to link into a 64 KB-RAM device).

Format (version 1), UTF-8, ``\\n`` line ends, at most :data:`MAX_LINE` bytes per line::

    ocre-autostart 1
    # comment lines and blank lines are ignored
    <name>\\t<image>\\t<flags>[\\t<arg>...]

* ``name``: container id, ``[a-z0-9][a-z0-9_.-]*``, at most 31 characters: a subset of what
  Ocre's ``ocre_is_valid_name`` accepts (lower-case letters, digits, ``.``, ``_``, ``-``).
* ``image``: file name under ``/lfs/ocre/images`` (no ``/``).
* ``flags``: ``-`` or a comma list of ``detached`` (start and don't wait for exit) and
  ``cap=<name>`` capabilities (``cap=filesystem``, ``cap=networking``...).
* then zero or more ``env:KEY=VALUE`` fields, then the arguments (argv[1:]; the runtime supplies argv[0]).
  Tabs and newlines are not allowed inside a field.

The first line must be exactly ``ocre-autostart 1``; a firmware seeing another version logs it and
starts nothing (never guesses).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ocre_py.errors import InvalidInput
from ocre_py.names import FIRMWARE_NAME_MAX, is_short_name

log = logging.getLogger(__name__)

MAGIC = "ocre-autostart"
VERSION = 1
#: Path on the device (the firmware's ``OCRE_AUTOSTART_PATH``).
DEVICE_PATH = "/lfs/ocre/autostart"
#: Longest line the firmware accepts (its read buffer), including the newline.
MAX_LINE = 512
#: Limits of the firmware's static tables (zephyr_app/src/autostart.h, default Kconfig).
MAX_ENTRIES = 8
MAX_ITEMS = 8  # args, env and capabilities, each
MAX_FILE = 4096
_CAP = re.compile(r"^[a-z][a-z0-9_:]*$")


@dataclass(frozen=True)
class AutostartEntry:
    """One container to start at boot."""

    name: str
    image: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    capabilities: tuple[str, ...] = ()
    detached: bool = True

    def validate(self, source: str = "autostart") -> None:
        """Refuse what the C parser could not read back, naming the field."""
        if not is_short_name(self.name, FIRMWARE_NAME_MAX):
            raise InvalidInput.field(source, "name", self.name, "[a-z0-9][a-z0-9_.-]*, at most 31 characters")
        if not self.image or "/" in self.image or self.image.startswith(".") or _bad(self.image):
            raise InvalidInput.field(source, "image", self.image, "a file name under /lfs/ocre/images")
        for cap in self.capabilities:
            if not _CAP.fullmatch(cap):
                raise InvalidInput.field(source, "capabilities", cap, "a lower-case capability name")
        for key, value in self.env:
            if not key or "=" in key or _bad(key) or _bad(value):
                raise InvalidInput.field(source, "env", f"{key}={value}", "KEY=VALUE without tabs/newlines")
        for arg in self.args:
            if _bad(arg):
                raise InvalidInput.field(source, "args", arg, "an argument without tabs or newlines")
        for what, items in (("args", self.args), ("env", self.env), ("capabilities", self.capabilities)):
            if len(items) > MAX_ITEMS:
                raise InvalidInput.field(source, what, f"{len(items)} items", f"at most {MAX_ITEMS}")

    def to_line(self) -> str:
        flags = ["detached"] if self.detached else []
        flags += [f"cap={c}" for c in self.capabilities]
        fields = [self.name, self.image, ",".join(flags) or "-"]
        fields += [f"env:{k}={v}" for k, v in self.env]
        fields += list(self.args)
        return "\t".join(fields)


def _bad(text: str) -> bool:
    return "\t" in text or "\n" in text or "\r" in text or "\0" in text  # NUL would cut the C string


def render(entries: Iterable[AutostartEntry]) -> str:
    """The file's text; raises :class:`InvalidInput` for an entry the firmware could not parse."""
    lines = [f"{MAGIC} {VERSION}"]
    seen: set[str] = set()
    for entry in entries:
        entry.validate()
        if entry.name in seen:
            raise InvalidInput.field("autostart", "name", entry.name, "a unique container name")
        seen.add(entry.name)
        line = entry.to_line()
        if len(line.encode()) + 1 > MAX_LINE:
            raise InvalidInput.field(
                "autostart", f"entry '{entry.name}'", f"{len(line)} bytes", f"at most {MAX_LINE - 1} bytes"
            )
        lines.append(line)
    if len(lines) - 1 > MAX_ENTRIES:
        raise InvalidInput.field("autostart", "entries", len(lines) - 1, f"at most {MAX_ENTRIES} containers")
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > MAX_FILE:
        raise InvalidInput.field(
            "autostart", "size", f"{len(text.encode())} bytes", f"at most {MAX_FILE} bytes"
        )
    return text


def parse(text: str, source: str = "autostart") -> list[AutostartEntry]:
    """Read the file back (tests, ``ocre zephyr`` inspection); the same rules as the C parser."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != f"{MAGIC} {VERSION}":
        raise InvalidInput.field(source, "header", lines[0] if lines else "", f"'{MAGIC} {VERSION}'")
    entries: list[AutostartEntry] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise InvalidInput.field(f"{source}:{number}", "line", line, "<name>\\t<image>\\t<flags>[\\t...]")
        name, image, flags, *rest = fields
        caps: list[str] = []
        detached = False
        for flag in [] if flags == "-" else flags.split(","):
            if flag == "detached":
                detached = True
            elif flag.startswith("cap="):
                caps.append(flag[4:])
            else:
                raise InvalidInput.field(f"{source}:{number}", "flag", flag, "detached or cap=<name>")
        env: list[tuple[str, str]] = []
        while rest and rest[0].startswith("env:"):
            key, _, value = rest.pop(0)[4:].partition("=")
            env.append((key, value))
        entry = AutostartEntry(name, image, tuple(rest), tuple(env), tuple(caps), detached)
        entry.validate(f"{source}:{number}")
        entries.append(entry)
    return entries


def entries_from_config(containers: Sequence[object]) -> list[AutostartEntry]:
    """Autostart entries for the ``containers:`` of an ``ocre.yml`` whose ``autostart`` is true."""
    out: list[AutostartEntry] = []
    for c in containers:
        if getattr(c, "autostart", False):
            out.append(
                AutostartEntry(
                    name=c.name,  # type: ignore[attr-defined]
                    image=c.image_file,  # type: ignore[attr-defined]
                    args=tuple(c.args),  # type: ignore[attr-defined]
                    env=tuple(sorted(c.env.items())),  # type: ignore[attr-defined]
                    capabilities=tuple(c.capabilities),  # type: ignore[attr-defined]
                )
            )
    return out
