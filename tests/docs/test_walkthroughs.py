"""Output that the docs show for commands CI cannot run (a board, a probe), made here without them.

docs/deploy.md walks through b_u585i_iot02a step by step and shows what `west ocre deploy` prints
after flashing. Here the build is replaced by the partition the build renders (the same geometry in
a `zephyr.dts`), the probe by a fake flash, and the printed lines must be the page's.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.zephyr import deploy as dep
from tests.conftest import REPO, CliResult
from tests.deploy.test_hex_delta_flasher import FakeFlash

DTS = REPO / "tests" / "deploy" / "dts"


def _shown_output(after: str) -> list[str]:
    """The lines of the first ```text block after the sentence ``after`` in docs/deploy.md."""
    text = (REPO / "docs" / "deploy.md").read_text()
    block = re.search(r"```text\n(.*?)\n\s*```", text[text.index(after) :], re.DOTALL)
    assert block, f"no ```text block after {after!r}"
    return [line.strip() for line in block[1].splitlines()]


def test_b_u585i_walkthrough_shows_what_build_and_deploy_print(
    ocre_cli: Callable[..., CliResult], examples: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _shown_output("pyocd and prints what it did:")

    # Step 1: the partition the build renders for the board (a dry run writes nothing).
    r = ocre_cli("zephyr", "build", "-b", "b_u585i_iot02a", "-d", "build/u585", "--dry-run", "--json")
    assert r.code == 0, r.err
    files = json.loads(r.out)["files"]
    storage = json.loads(next(v for k, v in files.items() if k.endswith("storage.json")))
    address, size, block = storage["absolute_address"], storage["size"], storage["erase_block"]

    # Step 4: a build directory with that partition, and a probe that records what it is sent.
    build = Path("build/u585")
    (build / "zephyr").mkdir(parents=True)
    shutil.copy(DTS / "u585_ospi_external.dts", build / "zephyr" / "zephyr.dts")
    (build / "CMakeCache.txt").write_text("CACHED_BOARD:STRING=b_u585i_iot02a\n")
    shutil.copy(examples["hello"], "hello.wasm")
    req = dep.DeployRequest(sources=["hello.wasm"], build_dir=build, autostart=True, name="hello")
    result = dep.deploy(req, device=FakeFlash(address, size, block))
    geometry = result.geometry or {}
    assert (geometry.get("address"), geometry.get("size")) == (address, size), (
        "the fixture's zephyr.dts must hold the partition the build renders"
    )

    from ocre_py.cli.zephyr.deploy import _show

    capsys.readouterr()
    _show(result)
    printed = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert [p for p in printed if p in shown] == shown, (
        "docs/deploy.md step 4 shows:\n" + "\n".join(shown) + "\ndeploy prints:\n" + "\n".join(printed)
    )
