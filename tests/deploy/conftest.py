"""Fixtures for the deploy tests: run ``ocre zephyr <verb>`` in-process through the real CLI boundary.

Only this room's subcommands are registered, so these tests do not depend on the other Zephyr
subcommands being importable.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.conftest import CliResult

DEPLOY_MODULES = (
    "ocre_py.cli.zephyr.deploy",
    "ocre_py.cli.zephyr.run",
    "ocre_py.cli.zephyr.monitor",
    "ocre_py.cli.zephyr.test",
)


@pytest.fixture
def zephyr_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    from ocre_py.cli import main as main_mod
    from ocre_py.cli import zephyr as zephyr_mod

    monkeypatch.setattr(zephyr_mod, "ZEPHYR_COMMAND_MODULES", DEPLOY_MODULES)
    monkeypatch.setattr(main_mod, "COMMAND_MODULES", ("ocre_py.cli.zephyr",))

    def run(*argv: str | os.PathLike[str]) -> CliResult:
        capsys.readouterr()
        code = main_mod.main(["zephyr", *(str(a) for a in argv)])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
