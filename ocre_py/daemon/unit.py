"""A systemd unit for ``ocre daemon`` (``ocre daemon install-unit``).

A system unit runs as root with ``/var/lib/ocre`` (spec D9) and the socket ``/run/ocre/ocre.sock``;
a user unit (``--user``) runs in the user's manager with the user's default working directory. The
daemon handles SIGTERM by stopping its containers gracefully, so ``TimeoutStopSec`` leaves room for
the grace period; ``Restart=on-failure`` brings a crashed daemon back, and its containers with it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

SYSTEM_DIR = Path("/etc/systemd/system")
UNIT_NAME = "ocre.service"


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
) -> str:
    """The unit text; deterministic for given arguments so tests can compare it exactly."""
    exe = executable or default_executable()
    if not hosts:
        hosts = [] if user else ["unix:///run/ocre/ocre.sock"]
    command = " ".join(
        [exe, "daemon", *(f"-H {shlex.quote(h)}" for h in hosts), f"--shutdown-grace {shutdown_grace:g}"]
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
