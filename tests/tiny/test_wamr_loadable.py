"""Issue 11: modules a board's WAMR would refuse are refused before they reach a partition or bundle.

Found on a real Zephyr: every tiny container with an indirect call failed to load ("zero byte
expected"): wasm-ld pads call_indirect's table index to 5 bytes and WAMR's classic loader without
CALL_INDIRECT_OVERLONG reads one byte. Both sides are fixed: ``ocre build`` links with
``--compress-relocations`` and the tiny firmware sets the option; the check knows which firmware
has it (the build directory records it).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ocre_py.errors import DeployError, ImageError
from ocre_py.image import wamr
from ocre_py.image.wasm import scan_code
from ocre_py.sdk import BuildOptions, build_container
from ocre_py.sdk.tiny import build_tiny
from ocre_py.zephyr import deploy as dep

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello" / "hello.c"
TINY_CMAKE = REPO / "zephyr_app" / "src" / "tiny" / "tiny.cmake"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """hello built by the toolkit (normal and --tiny) and, from the same command without
    --compress-relocations, the padded module clang/wasm-ld leave by default."""
    d = tmp_path_factory.mktemp("wamr")
    out = {"normal": d / "normal.wasm", "tiny": d / "tiny.wasm", "padded": d / "padded.wasm"}
    res = build_container([HELLO], out["normal"], BuildOptions())
    build_tiny([HELLO], out["tiny"])
    assert "-Wl,--compress-relocations" in res.command
    cmd = [c for c in res.command if c != "-Wl,--compress-relocations"]
    subprocess.run([*cmd[:-1], str(out["padded"])], check=True)
    return out


def test_toolkit_builds_have_no_padded_table_index(built: dict[str, Path]) -> None:
    assert scan_code(built["normal"].read_bytes()).padded_table_index == 0
    assert scan_code(built["tiny"].read_bytes()).padded_table_index == 0
    padded = scan_code(built["padded"].read_bytes())
    assert padded.padded_table_index > 0, "wasm-ld stopped padding: the check below tests nothing"
    assert built["normal"].stat().st_size < built["padded"].stat().st_size


def test_padded_module_refused_by_a_wamr_without_overlong(built: dict[str, Path]) -> None:
    facts = scan_code(built["padded"].read_bytes())
    with pytest.raises(ImageError, match=r"call_indirect with a padded table index \(firmware built "
                       r"without WAMR_BUILD_CALL_INDIRECT_OVERLONG\)"):  # fmt: skip
        wamr.TINY_UNRECORDED.require_loadable(facts, source="padded.wasm")
    no_overlong = wamr.from_cache_value("WAMR_BUILD_CALL_INDIRECT_OVERLONG=0", origin="x")
    assert no_overlong.problems(facts)
    # the firmware as built now (tiny.cmake sets it; the Ocre core has reference types) loads it
    assert wamr.TINY.problems(facts) == [] and wamr.OCRE_CORE.problems(facts) == []


def test_reference_types_imply_overlong_as_in_wamr() -> None:
    assert wamr.WamrBuild.from_options("x", {"WAMR_BUILD_REF_TYPES": "ON"}).call_indirect_overlong
    assert wamr.WamrBuild.from_options("x", {"WAMR_BUILD_LIME1": 1}).call_indirect_overlong
    assert not wamr.WamrBuild.from_options("x", {}).call_indirect_overlong
    assert "bulk-memory" in wamr.WamrBuild.from_options("x", {}).proposals  # WAMR's default


def test_tiny_table_matches_tiny_cmake() -> None:
    """ocre_py.image.wamr.TINY must say what zephyr_app/src/tiny/tiny.cmake builds."""
    text = TINY_CMAKE.read_text()
    options = dict(re.findall(r"^\s*set\((WAMR_BUILD_[A-Z_]+)\s+(\d+)\)", text, re.M))
    assert options["WAMR_BUILD_CALL_INDIRECT_OVERLONG"] == "1"
    from_cmake = wamr.WamrBuild.from_options("tiny.cmake", options)
    assert (from_cmake.proposals, from_cmake.call_indirect_overlong) == (
        wamr.TINY.proposals,
        wamr.TINY.call_indirect_overlong,
    )
    assert "OCRE_WAMR_OPTIONS" in text and wamr.CACHE_KEY == "OCRE_WAMR_OPTIONS"


def _tiny_build_dir(tmp_path: Path, record: str | None) -> Path:
    b = tmp_path / "build"
    (b / "zephyr").mkdir(parents=True)
    lines = [
        "CMAKE_PROJECT_NAME:STATIC=ocre_tiny",
        "CACHED_BOARD:INTERNAL=qemu_cortex_m3",
        "OCRE_PROFILE:UNINITIALIZED=tiny",
    ]
    if record is not None:
        lines.append(f"OCRE_WAMR_OPTIONS:INTERNAL={record}")
    (b / "CMakeCache.txt").write_text("\n".join(lines) + "\n")
    return b


@pytest.mark.parametrize(
    ("record", "refused"),
    [
        (None, True),  # a tiny build from before the record: no overlong support
        ("WAMR_BUILD_REF_TYPES=0;WAMR_BUILD_CALL_INDIRECT_OVERLONG=0", True),
        ("WAMR_BUILD_REF_TYPES=0;WAMR_BUILD_CALL_INDIRECT_OVERLONG=1", False),
    ],
)
def test_deploy_checks_against_what_the_build_recorded(
    built: dict[str, Path], tmp_path: Path, record: str | None, refused: bool
) -> None:
    req = dep.DeployRequest(
        sources=[str(built["padded"])], build_dir=_tiny_build_dir(tmp_path, record), format="bundle"
    )
    sources = dep.resolve_sources(req.sources)
    if refused:
        with pytest.raises(DeployError, match="padded table index"):
            dep.read_images(req, sources)
    else:
        assert dep.read_images(req, sources) == {"padded.wasm": built["padded"].read_bytes()}
    # the toolkit's own build loads everywhere
    req.sources = [str(built["tiny"]), str(built["normal"])]
    assert list(dep.read_images(req, dep.resolve_sources(req.sources))) == ["tiny.wasm", "normal.wasm"]
