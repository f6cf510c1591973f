"""Shared fixtures: every test runs in a temp cwd with its own Ocre home and west config.

Real parts are built once per session and shared: the example containers (compiled with the real
clang + wasi-libc) and the compiled-module cache.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: What a copy of this repository leaves out (a west workspace's manifest repository, a docs run's
#: clone): build products, caches and the virtual environment.
REPO_COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "build",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "*.egg-info",
    "*.wasm",
)
EXAMPLES_DIR = REPO / "examples"
CONTAINERS_DIR = Path(__file__).parent / "containers"
# Recorded before any test clears it: Zephyr-dependent tests run only where a real tree exists.
_REAL_ZEPHYR_BASE = os.environ.get("ZEPHYR_BASE")


def pytest_configure(config: pytest.Config) -> None:
    cache = Path(config.rootpath) / ".pytest_cache" / "ocre-modules"
    os.environ.setdefault("OCRE_CACHE_DIR", str(cache))


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OCRE_HOME", str(tmp_path / "ocre-home"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))  # never the user's docker login
    monkeypatch.delenv("OCRE_HOST", raising=False)
    monkeypatch.delenv("ZEPHYR_BASE", raising=False)
    monkeypatch.setenv("WEST_CONFIG_GLOBAL", str(tmp_path / ".west-global"))
    monkeypatch.setenv("WEST_CONFIG_SYSTEM", str(tmp_path / ".west-system"))


@pytest.fixture
def zephyr_base() -> Path:
    """The real Zephyr tree, or a visible skip: these tests never pass without one."""
    if not _REAL_ZEPHYR_BASE or not (Path(_REAL_ZEPHYR_BASE) / "VERSION").is_file():
        pytest.skip("needs a Zephyr workspace: set ZEPHYR_BASE to a Zephyr v4.4.0 tree")
    return Path(_REAL_ZEPHYR_BASE)


def _build(sources: Sequence[Path], out: Path, **options: object) -> Path:
    from ocre_py.sdk import BuildOptions, build_container

    if not out.exists():
        build_container(sources, out, BuildOptions(**options))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="session")
def wasm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wasm")


@pytest.fixture(scope="session")
def examples(wasm_dir: Path) -> dict[str, Path]:
    """Every example container, compiled once per session: name → .wasm path."""
    return {
        d.name: _build(sorted(d.glob("*.c")), wasm_dir / f"{d.name}.wasm")
        for d in sorted(EXAMPLES_DIR.iterdir())
        if d.is_dir() and any(d.glob("*.c"))
    }


@pytest.fixture(scope="session")
def build_test_container(wasm_dir: Path) -> Callable[..., Path]:
    """Compile ``tests/containers/<name>.c`` once per set of options and return the .wasm."""

    def build(name: str, **options: object) -> Path:
        tag = "-".join(f"{k}{v}" for k, v in sorted(options.items())) or "default"
        return _build([CONTAINERS_DIR / f"{name}.c"], wasm_dir / f"{name}-{tag}.wasm", **options)

    return build


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def ocre_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``ocre ARGS`` in-process and capture its exit code, stdout and stderr."""
    from ocre_py.cli.main import main

    def run(*argv: str | os.PathLike[str]) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def require_program(name: str) -> str:
    """Path of a program the tests need; fail (not skip) when the set-up forgot it."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: run 'make setup' (it installs the Debian packages)")
    return path


def padded_module(size: int) -> bytes:
    """A valid wasm module of about ``size`` bytes: no code, a custom section of random bytes (so
    partitions cannot compress it). For storage tests that need real modules of a given size."""
    from ocre_py.image.wasm import encode_uleb

    payload = b"\x04pad" + os.urandom(size)
    return b"\0asm\x01\0\0\0" + b"\x00" + encode_uleb(len(payload)) + payload


#: Include directories of upstream Ocre's public API in an ocre-runtime checkout.
OCRE_INCLUDES = ("src/ocre/include", "src/runtime/include", "src/common/include")


def ocre_runtime_dir() -> Path:
    """``$OCRE_RUNTIME_DIR`` (an ocre-runtime checkout at the pinned commit), or a visible skip."""
    root = os.environ.get("OCRE_RUNTIME_DIR")
    if not root or not (Path(root) / "src" / "ocre" / "include" / "ocre" / "ocre.h").is_file():
        pytest.skip(
            "needs OCRE_RUNTIME_DIR: an ocre-runtime checkout (docs/zephyr.md, verifying the firmware)"
        )
    return Path(root)
