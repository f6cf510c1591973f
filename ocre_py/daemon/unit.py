"""A systemd unit for ``ocre daemon`` (``ocre daemon install-unit``).

A system unit runs as root with ``/var/lib/ocre`` (spec D9) and the socket ``/run/ocre/ocre.sock``;
a user unit (``--user``) runs in the user's manager with the user's default working directory. The
daemon handles SIGTERM by stopping its containers gracefully, so ``TimeoutStopSec`` leaves room for
the grace period; ``Restart=on-failure`` brings a crashed daemon back, and its containers with it.

A daemon that joins a fleet gets its ``--fleet`` options on ``ExecStart``, and reads the secrets a
command line must not carry (``OCRE_FLEET_PASSWORD``) from an ``EnvironmentFile`` the unit names
but does not write: the unit itself is world-readable.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

SYSTEM_DIR = Path("/etc/systemd/system")
UNIT_NAME = "ocre.service"
#: Where a unit's fleet secrets live (``OCRE_FLEET_PASSWORD=…``, mode 0600), for the system unit and
#: a user unit (``%h``: the user's home, as systemd expands it).
SYSTEM_ENV_FILE = "/etc/ocre/fleet.env"
USER_ENV_FILE = "%h/.config/ocre/fleet.env"


def exec_arg(arg: str) -> str:
    """One ``ExecStart`` argument: shell-quoted (systemd reads the same quotes), with ``%`` and
    ``$`` doubled so systemd passes them as written instead of expanding specifiers and variables."""
    return shlex.quote(arg).replace("%", "%%").replace("$", "$$")


def env_file(user: bool) -> str:
    return USER_ENV_FILE if user else SYSTEM_ENV_FILE


def user_dir() -> Path:
    import os

    config = os.environ.get("XDG_CONFIG_HOME")
    return (Path(config) if config else Path.home() / ".config") / "systemd" / "user"


def default_executable() -> str:
    """The ``ocre`` script beside this Python (a venv), else the one on PATH, else ``python -m``."""
    import shutil

    beside = Path(sys.executable).parent / "ocre"
    if beside.is_file():
        return str(beside)
    return shutil.which("ocre") or "ocre"


def render(
    *,
    executable: str | None = None,
    hosts: list[str] | None = None,
    user: bool = False,
    workdir: str | None = None,
    shutdown_grace: float = 5.0,
    fleet_args: Sequence[str] = (),
) -> str:
    """The unit text; deterministic for given arguments so tests can compare it exactly.

    ``fleet_args`` are the daemon's ``--fleet`` options (``MemberConfig.to_args``); with them the
    unit reads :func:`env_file` (when it exists) for the broker password.
    """
    exe = executable or default_executable()
    if not hosts:
        hosts = [] if user else ["unix:///run/ocre/ocre.sock"]
    command = " ".join(
        [
            exec_arg(exe),
            "daemon",
            *(f"-H {exec_arg(h)}" for h in hosts),
            f"--shutdown-grace {shutdown_grace:g}",
            *(exec_arg(a) for a in fleet_args),
        ]
    )
    lines = [
        "[Unit]",
        "Description=Ocre container daemon (WebAssembly containers on Linux)",
        "Documentation=https://github.com/project-ocre",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={command}",
        "Restart=on-failure",
        "RestartSec=1",
        f"TimeoutStopSec={int(shutdown_grace) + 10}",
        "KillMode=mixed",
    ]
    if workdir:
        lines.append(f"Environment=OCRE_HOME={workdir}")
    if fleet_args:
        lines += [
            "# The broker password, never on this (world-readable) unit: OCRE_FLEET_PASSWORD=... in",
            "# this file, mode 0600 (optional: '-').",
            f"EnvironmentFile=-{env_file(user)}",
        ]
    if not user:
        lines += [
            "RuntimeDirectory=ocre",
            "RuntimeDirectoryMode=0755",
            "StateDirectory=ocre",
            "UMask=0077",
            "NoNewPrivileges=yes",
            "ProtectSystem=full",
        ]
    lines += ["", "[Install]", f"WantedBy={'default.target' if user else 'multi-user.target'}", ""]
    return "\n".join(lines)
