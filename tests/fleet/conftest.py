"""Fleet fixtures: a real mosquitto broker per test (its own port, config and persistence), a real
docker-registry for the session, and the example modules the members run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ocre_py.fleet.broker import DEFAULT_FLEET, BrokerOptions
from ocre_py.fleet.observe import FleetWatch
from tests.conftest import EXAMPLES_DIR, CliResult
from tests.fleet.broker import Mosquitto
from tests.fleet.members import Fleet
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
    """hello (prints, exits with $EXIT_CODE), blinky (runs until stopped, needs ocre:api), and
    publisher and subscriber (sensor/ messages, ocre:api)."""
    from ocre_py.sdk import build_container

    out = {}
    for name in ("hello", "blinky", "publisher", "subscriber"):
        path = wasm_dir / f"{name}.wasm"
        if not path.exists():
            build_container(sorted((EXAMPLES_DIR / name).glob("*.c")), path)
        out[name] = path
    return out


@pytest.fixture
def fleet(
    tmp_path: Path,
    broker: Mosquitto,
    fleet_registry: RegistryServer,
    modules: dict[str, Path],
    ocre_cli: Callable[..., CliResult],
) -> Iterator[Fleet]:
    """Real members (``fleet.join``) on a broker and registry, the CLI, a watch on the broker."""
    f = Fleet(tmp_path, broker, fleet_registry, modules, ocre_cli)
    with FleetWatch(BrokerOptions(broker.url), DEFAULT_FLEET) as watch:
        f.watch = watch
        try:
            yield f
        finally:
            for m in f.members.values():  # all at once: each takes its shutdown grace
                if m.proc is not None and m.proc.poll() is None:
                    m.proc.terminate()
            for m in f.members.values():
                m.stop()
