"""Fleet fixtures: a real mosquitto broker per test (its own port, config and persistence), a real
docker-registry for the session, and the example modules the members run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES_DIR
from tests.fleet.broker import Mosquitto
from tests.image.conftest import RegistryServer, run_registry


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as b:
        yield b


@pytest.fixture(scope="session")
def fleet_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An open docker-registry on loopback that members pull from (plain HTTP, as for loopback)."""
    with run_registry(tmp_path_factory.mktemp("fleet-registry")) as server:
        yield server


@pytest.fixture(scope="session")
def modules(wasm_dir: Path) -> dict[str, Path]:
    """hello (prints, exits with $EXIT_CODE) and blinky (runs until stopped, needs ocre:api)."""
    from ocre_py.sdk import build_container

    out = {}
    for name in ("hello", "blinky"):
        path = wasm_dir / f"{name}.wasm"
        if not path.exists():
            build_container(sorted((EXAMPLES_DIR / name).glob("*.c")), path)
        out[name] = path
    return out
