"""The full profile's C glue (zephyr_app/src/main.c, autostart.c) run on upstream Ocre's POSIX build.

Ocre's core is the same code on Zephyr and POSIX, so the glue is compiled against a built
ocre-runtime (the commit west.yml pins; its POSIX CMake build) and run on a working directory
holding exactly what ``ocre zephyr deploy`` put in a partition image, read back with littlefs-python.
Stdout is a pipe, as under Twister, and the Twister scenarios' own regexes (sample.yaml) must match.

Needs ``OCRE_RUNTIME_DIR``: an ocre-runtime checkout with its WAMR submodule, built with
``cmake -B build && cmake --build build`` (docs/zephyr.md, "Verifying the firmware"). Skipped
visibly otherwise: CI has no ocre-runtime.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ocre_py.zephyr import deploy as dep
from ocre_py.zephyr.storage.littlefs import Partition, detect_geometry
from tests.conftest import OCRE_INCLUDES, ocre_runtime_dir, require_program

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "zephyr_app" / "src"
LIBS = (
    "src/ocre/libOcreCore.a",
    "src/runtime/wamr-wasip1/libOcreRuntimeWamr.a",
    "src/runtime/wamr-wasip1/ocre_api/libOcreRuntimeAPI.a",
    "src/platform/posix/libOcrePlatform.a",
    "wasm-micro-runtime/libiwasm.a",
    "src/common/libOcreCommon.a",
)


@pytest.fixture(scope="module")
def glue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = ocre_runtime_dir()
    build = Path(os.environ.get("OCRE_RUNTIME_BUILD", root / "build"))
    missing = [lib for lib in LIBS if not (build / lib).is_file()]
    if missing:
        pytest.skip(f"ocre-runtime is not built in {build} (missing {missing[0]})")
    cc = require_program("gcc")
    out = tmp_path_factory.mktemp("glue") / "ocre_glue"
    cmd = [
        cc,
        "-std=gnu99",
        "-Wall",
        "-Wextra",
        "-Werror",
        f"-I{SRC}",
        *(f"-I{root / i}" for i in OCRE_INCLUDES),
    ]
    cmd += [str(SRC / "main.c"), str(SRC / "autostart.c"), "-o", str(out)]
    cmd += [str(build / lib) for lib in LIBS] + ["-lm", "-ldl", "-pthread"]
    subprocess.run(cmd, check=True)  # warnings are errors: the glue must build clean
    return out


def deployed_workdir(tmp_path: Path, *requests: dep.DeployRequest) -> Path:
    """Deploy into a partition image for mps2/an385 and read its Ocre directory back."""
    out = tmp_path / "storage.bin"
    for req in requests:
        req.board, req.output = "mps2/an385", out
        dep.deploy(req)
    data = out.read_bytes()
    workdir = tmp_path / "wd"
    Partition.from_bytes(data, detect_geometry(data)).extract(workdir)
    return workdir


def run_glue(glue: Path, workdir: Path, *, until: str | None = None, timeout: float = 20) -> list[str]:
    """Run the glue with stdout to a pipe; stop it after ``until`` appears (detached containers
    that never exit), else wait for it to finish."""
    env = {**os.environ, "OCRE_APP_WORKDIR": str(workdir)}
    proc = subprocess.Popen(
        [str(glue)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=workdir
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if (until and until in line) or time.monotonic() > deadline:
                break
    finally:
        proc.kill()
        proc.wait()
    return lines


def twister_regexes(scenario: str) -> list[str]:
    data = yaml.safe_load((REPO / "zephyr_app" / "sample.yaml").read_text())
    return list(data["tests"][scenario]["harness_config"]["regex"])


def assert_ordered(lines: list[str], regexes: list[str]) -> None:
    """Twister's multi_line ordered console harness: each regex matches a later line."""
    i = 0
    for rx in regexes:
        while i < len(lines) and not re.search(rx, lines[i]):
            i += 1
        assert i < len(lines), f"{rx!r} not matched in order in:\n" + "\n".join(lines)
        i += 1


def test_hello_matches_the_twister_scenarios(glue: Path, examples: dict[str, Path], tmp_path: Path) -> None:
    wd = deployed_workdir(
        tmp_path, dep.DeployRequest(sources=[str(examples["hello"])], autostart=True, args=["world"])
    )
    lines = run_glue(glue, wd)
    # on Zephyr the context is /lfs/ocre (the littlefs automount); here it is the read-back copy
    boot = [rx.replace("/lfs/ocre", re.escape(str(wd))) for rx in twister_regexes("app.ocre.boot")]
    assert_ordered(lines, boot)
    assert_ordered(lines, twister_regexes("app.ocre.hello"))
    assert lines[-1] == "ocre-app: all containers finished"


def test_messaging_containers_run_from_the_partition(
    glue: Path, examples: dict[str, Path], tmp_path: Path
) -> None:
    wd = deployed_workdir(
        tmp_path,
        dep.DeployRequest(
            sources=[str(examples["subscriber"]), str(examples["publisher"])],
            autostart=True,
            capabilities=["ocre:api"],
        ),
    )
    lines = run_glue(glue, wd, until="received sensor/temperature")
    starting = [n for n, line in enumerate(lines) if "starting (image" in line]
    assert len(starting) == 2 and lines.index("subscriber: waiting for sensor/ messages") > starting[0]
    assert any(line.startswith("ocre-app: ready, 2 container(s) running") for line in lines)
    assert lines[-1].startswith("received sensor/temperature [application/json]")


def test_status_lines_for_bad_autostart_and_long_workdir(glue: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    (wd / "images").mkdir(parents=True)
    (wd / "autostart").write_text("ocre-autostart 1\n" + "#" * 5000 + "\n")
    lines = run_glue(glue, wd)
    assert f"ocre-app: error: {wd}/autostart is larger than 4096 bytes, no containers started" in lines
    deep = tmp_path / ("d" * 200) / ("e" * 60)
    (deep / "images").mkdir(parents=True)
    lines = run_glue(glue, deep)
    assert any(re.match(r"ocre-app: error: working directory .* is too long \(\d+ bytes", x) for x in lines)
