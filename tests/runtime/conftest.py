"""Fixtures for runtime tests: a Runtime on a temp workdir, and helpers that run real containers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocre_py.runtime import Container, ContainerSpec, Runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(tmp_path / "wd")
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def probe(build_test_container: Callable[..., Path]) -> Path:
    return build_test_container("api_probe")


@pytest.fixture(scope="session")
def misbehave(build_test_container: Callable[..., Path]) -> Path:
    return build_test_container("misbehave")


@pytest.fixture(scope="session")
def print_args(build_test_container: Callable[..., Path]) -> Path:
    return build_test_container("print_args")


@pytest.fixture(scope="session")
def cat(build_test_container: Callable[..., Path]) -> Path:
    return build_test_container("cat")


@dataclass
class Run:
    container: Container
    out_path: Path

    @property
    def out(self) -> str:
        return self.out_path.read_text() if self.out_path.exists() else ""

    def values(self) -> dict[str, str]:
        """``key=value`` lines printed by api_probe."""
        pairs = {}
        for line in self.out.splitlines():
            key, sep, value = line.partition("=")
            if sep and " " not in key:
                pairs[key] = value
        return pairs

    def wait_for(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.out:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in output after {timeout}s: {self.out!r}")
            time.sleep(0.01)


@pytest.fixture
def start(runtime: Runtime, tmp_path: Path) -> Callable[..., Run]:
    """Create and start a container whose stdout/stderr go to a file; returns a :class:`Run`."""
    counter = iter(range(10_000))

    def _start(module: Path, *args: str, caps: Sequence[str] = (), **spec: object) -> Run:
        out = tmp_path / f"out-{next(counter)}.txt"
        c = runtime.create(
            ContainerSpec(image=module.name, module_path=module, args=args, capabilities=caps,
                          stdout=out, stderr=out, **spec)  # type: ignore[arg-type]
        )  # fmt: skip
        runtime.start(c.id)
        return Run(c, out)

    return _start
