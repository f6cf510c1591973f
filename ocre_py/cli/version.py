"""``ocre version``: upstream's four lines, plus the engine versions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("version", help="show version information")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=cmd_version)


def version_info() -> dict[str, str]:
    import platform
    import subprocess
    from importlib.metadata import version
    from pathlib import Path

    import ocre_py

    root = Path(ocre_py.__file__).resolve().parents[1]
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "version": ocre_py.__version__,
        "commit": commit or "unknown",
        "build": f"Python {platform.python_version()}, wasmtime {version('wasmtime')}, "
        f"Ocre API {ocre_py.OCRE_API_VERSION}",
        "build_date": _install_date(root),
    }


def _install_date(root: Path) -> str:
    import datetime

    stamp = (root / "ocre_py" / "__init__.py").stat().st_mtime
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cmd_version(args: argparse.Namespace) -> int:
    info = version_info()
    if args.json:
        from ocre_py.cli.output import print_json

        print_json(info)
        return 0
    sys.stdout.write(
        f"Ocre version: {info['version']}\nCommit ID: {info['commit']}\n"
        f"Build information: {info['build']}\nBuild date: {info['build_date']}\n"
    )
    return 0
