"""The tiny profile plugged into the toolkit's build, deploy and run machinery (issues 5 and 6):
bundle geometry from the board data and from a build's devicetree, the ``bundle`` storage format,
the tiny build plan (exact west command) and the QEMU run of a bundle at its partition address."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocre_py.errors import BuildError, DeployError
from ocre_py.zephyr.firmware.build import PlanContext
from ocre_py.zephyr.project import build_dir
from ocre_py.zephyr.storage import bundle as b
from ocre_py.zephyr.tiny import budget as tiny_budget
from ocre_py.zephyr.tiny import plan as tiny_plan
from ocre_py.zephyr.tiny import profile as tiny_profile
from ocre_py.zephyr.tiny.bundle_format import BundleFormat

# What the tiny overlay produces in a qemu_cortex_m3 build's zephyr.dts (flash0 at 0, 256 KB).
ZEPHYR_DTS = """/dts-v1/;
/ {
	#address-cells = <1>;
	#size-cells = <1>;
	chosen { zephyr,flash = &flash0; zephyr,code-partition = &code_partition; };
	flash0: flash@0 {
		compatible = "soc-nv-flash";
		reg = <0x0 0x40000>;
		partitions {
			compatible = "fixed-partitions";
			#address-cells = <1>;
			#size-cells = <1>;
			code_partition: partition@0 { label = "code"; reg = <0x0 0x30000>; read-only; };
			ocre_bundle_partition: partition@30000 {
				label = "ocre-bundle"; reg = <0x30000 0x10000>; read-only;
			};
		};
	};
	sram0: memory@20000000 { compatible = "mmio-sram"; reg = <0x20000000 0x10000>; };
};
"""


def _board():  # type: ignore[no-untyped-def]
    from ocre_py.zephyr.board.database import get_board

    return get_board("qemu_cortex_m3")


def test_board_database_agrees_with_the_tiny_target() -> None:
    board = _board()
    t = tiny_profile.tiny_target(board)
    assert t is tiny_profile.QEMU_CORTEX_M3
    assert (board.ram, board.flash.size, board.flash.base) == (t.ram_size, t.flash_size, t.flash_base)
    assert board.qemu_machine == t.qemu_machine == "lm3s6965evb"


def test_bundle_geometry_from_board_and_from_the_build_devicetree(tmp_path: Path) -> None:
    geo = tiny_plan.bundle_geometry(board=_board())
    assert (geo.address, geo.size, geo.load_address, geo.label) == (
        0x30000,
        0x10000,
        0x30000,
        tiny_profile.BUNDLE_LABEL,
    )
    build = tmp_path / "build"
    (build / "zephyr").mkdir(parents=True)
    (build / "zephyr" / "zephyr.dts").write_text(ZEPHYR_DTS)
    from_dts = tiny_plan.bundle_geometry(build_dir=build)
    assert (from_dts.address, from_dts.size, from_dts.load_address) == (0x30000, 0x10000, 0x30000)


def test_bundle_format_packs_entries_and_refuses_what_the_firmware_cannot_run(
    tiny_containers, examples
) -> None:  # type: ignore[no-untyped-def]
    from ocre_py.zephyr.storage.autostart import AutostartEntry

    geo = tiny_plan.bundle_geometry(board=_board())
    fmt = BundleFormat()
    images = {
        "hello.wasm": tiny_containers["hello"].read_bytes(),
        "ticker.wasm": tiny_containers["ticker"].read_bytes(),
    }
    entries = [
        AutostartEntry(
            name="greeter", image="hello.wasm", args=("world",), env=(("GREETING", "Hi"),), capabilities=()
        )
    ]
    packed = fmt.pack(images, geo, entries=entries, previous=None, progress=None)
    data, used = packed.data, packed.used
    listed = fmt.list(data, geo, source="bundle.bin")
    assert len(data) == geo.size and data[used:] == b"\xff" * (geo.size - used)  # like erased flash
    assert [e["name"] for e in listed] == ["greeter", "ticker"]
    assert listed[0]["args"] == ["world"] and listed[0]["env"] == ["GREETING=Hi"]
    with pytest.raises(DeployError, match="cannot shrink"):
        fmt.pack(
            {"blinky.wasm": examples["blinky"].read_bytes()},
            geo,
            entries=[],
            previous=None,
            progress=None,
        )


def test_deploy_budget_prints_the_table(tiny_containers) -> None:  # type: ignore[no-untyped-def]
    w = b.BundleWriter()
    w.add("hello", tiny_containers["hello"].read_bytes())
    text = tiny_budget.render_table(tiny_budget.deploy_budget(_board(), w.build()))
    assert "flash: WAMR classic interpreter" in text and "pool: container hello" in text
    assert text.rstrip().endswith("qemu_cortex_m3 (tiny profile): fits")


def test_tiny_build_plan_command_and_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from ocre_py.zephyr.firmware.build import DEFAULT_APP, BuildRequest
    from ocre_py.zephyr.project.config import OcreConfig
    from ocre_py.zephyr.project.workspace import WestContext

    ctx = WestContext.__new__(WestContext)
    monkeypatch.setattr(WestContext, "config", lambda self, key, default=None: default, raising=False)
    req = BuildRequest(
        board="qemu_cortex_m3", build_dir=tmp_path / "build", profile="tiny", cmake_args=["-DFOO=1"]
    )
    plan = tiny_plan.plan_tiny_build(
        PlanContext(req, ctx, DEFAULT_APP, OcreConfig(), "qemu_cortex_m3", "command line (-b)",
                    _board(), tmp_path / "build")  # type: ignore[arg-type]
    )  # fmt: skip
    assert plan.command == [
        sys.executable, "-m", "west", "build", "-b", "qemu_cortex_m3", "-d", str(tmp_path / "build"),
        "-p", "never", str(DEFAULT_APP), "--", "-DOCRE_PROFILE=tiny",
        f"-DOCRE_TINY_POOL_SIZE={tiny_profile.QEMU_CORTEX_M3.pool_size}", "-DOCRE_TINY_BUNDLE_ADDR=0x30000",
        "-DOCRE_TINY_BUNDLE_SIZE=0x10000", "-DFOO=1",
    ]  # fmt: skip
    assert plan.budget.ok and plan.budget.ram_capacity == 65536
    assert any(p.name == "tiny-budget.txt" for p in plan.files)


def test_tiny_build_plan_refuses_a_container_that_does_not_fit(examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ocre_py.zephyr.firmware.build import DEFAULT_APP, BuildRequest
    from ocre_py.zephyr.project.config import ContainerSpec, OcreConfig

    cfg = OcreConfig(containers=(ContainerSpec(image=str(examples["blinky"]), name="blinky"),))
    with pytest.raises(BuildError, match="container blinky: linear memory not shrinkable"):
        tiny_plan.plan_tiny_build(
            PlanContext(BuildRequest(), None, DEFAULT_APP, cfg, "qemu_cortex_m3", "-b",
                        _board(), tmp_path / "b")  # type: ignore[arg-type]
        )  # fmt: skip


def test_unknown_tiny_board_needs_sizes() -> None:
    with pytest.raises(DeployError):
        tiny_plan.bundle_geometry()


def test_cli_deploy_then_run_on_qemu_cortex_m3(
    ocre_cli, tiny_containers, test_firmware, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`ocre zephyr deploy --profile tiny` packs the bundle (budget table first), `ocre zephyr run`
    boots the Cortex-M3 bundle-walk firmware with it at 0x30000 through the toolkit's QEMU runner."""
    out = tmp_path / "deploy"
    res = ocre_cli(
        "zephyr", "deploy", tiny_containers["hello"], tiny_containers["ticker"], "-b", "qemu_cortex_m3",
        "--profile", "tiny", "-a", "world", "-o", out,
    )  # fmt: skip
    assert res.code == 0, res.err
    assert "qemu_cortex_m3 (tiny profile): fits" in res.out and "pool: container hello" in res.out
    bundle = out / "storage.bin"
    parsed = b.read_bundle_file(bundle)
    assert [e.name for e in parsed.entries] == ["hello", "ticker"] and parsed.entries[0].args == ("world",)
    listed = ocre_cli("zephyr", "deploy", "--list", bundle)
    assert listed.code == 0 and "hello" in listed.out and "ticker" in listed.out
    expect = [f"entry {e.name} size={e.size} sha256={e.sha256} ok" for e in parsed.entries]
    run = ocre_cli(
        "zephyr", "run", "--elf", test_firmware, "-b", "qemu_cortex_m3", "--storage", bundle,
        "--expect", "OCRE-BUNDLE at 0x00030000", *[x for e in expect for x in ("--expect", e)],
        "--expect", "OCRE-BUNDLE done rc=0", "--timeout", "10s",
    )  # fmt: skip
    assert run.code == 0, run.out + run.err


def test_cli_deploy_refuses_with_the_numbers_and_writes_nothing(ocre_cli, examples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "deploy"
    res = ocre_cli(
        "zephyr", "deploy", examples["blinky"], "-b", "qemu_cortex_m3", "--profile", "tiny", "-o", out
    )
    assert res.code != 0
    assert "cannot shrink its memory" in res.err and "blinky" in res.err
    assert not out.exists()


def test_full_profile_refusal_suggests_the_tiny_profile(ocre_cli) -> None:  # type: ignore[no-untyped-def]
    res = ocre_cli("zephyr", "build", "-b", "qemu_cortex_m3", "--dry-run")
    assert res.code != 0 and "--profile tiny" in res.err
    tiny_res = ocre_cli("zephyr", "build", "-b", "qemu_cortex_m3", "--profile", "tiny", "--dry-run")
    assert tiny_res.code == 0, tiny_res.err
    assert "-DOCRE_PROFILE=tiny" in tiny_res.out and "qemu_cortex_m3 (tiny profile): fits" in tiny_res.out


def test_ocre_yml_profile_selects_the_tiny_build(ocre_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "ocre.yml"
    cfg.write_text("board: qemu_cortex_m3\nprofile: tiny\n")
    res = ocre_cli("zephyr", "build", "--config", cfg, "--dry-run")
    assert res.code == 0, res.err
    assert "-DOCRE_PROFILE=tiny" in res.out
    cfg.write_text("profile: huge\n")
    bad = ocre_cli("zephyr", "build", "-b", "qemu_cortex_m3", "--config", cfg, "--dry-run")
    assert bad.code == 2 and "profile 'huge'" in bad.err


def _twister_scenario(name: str) -> dict:
    """A scenario as Twister's TwisterConfigParser.get_scenario merges it with ``common``: lists
    concatenate, strings join, other values (min_ram) are replaced by the scenario's."""
    import yaml

    from tests.conftest import REPO

    data = yaml.safe_load((REPO / "zephyr_app" / "sample.yaml").read_text())
    merged = {k: (list(v) if isinstance(v, list) else v) for k, v in data.get("common", {}).items()}
    for k, v in data["tests"][name].items():
        if k in merged and isinstance(merged[k], list) and isinstance(v, list):
            merged[k] += v
        elif k in merged and k == "filter":
            merged[k] = f"({merged[k]}) and ({v})"
        else:
            merged[k] = v
    return merged


def test_twister_scenario_runs_the_tiny_profile_on_qemu_cortex_m3() -> None:
    from tests.conftest import REPO

    s = _twister_scenario("app.ocre.tiny.hello")
    assert "qemu_cortex_m3" in s["platform_allow"] and "qemu_cortex_m3" in s["integration_platforms"]
    assert s["min_ram"] <= 64 and s["extra_args"] == ["OCRE_PROFILE=tiny"]
    assert set(s["platform_allow"]) - set(s["platform_exclude"]) == {"qemu_cortex_m3"}
    assert set(s["integration_platforms"]) - set(s["platform_exclude"]) == {"qemu_cortex_m3"}
    assert s["harness"] == "console" and s["harness_config"]["ordered"]
    # The regexes match what main.c prints for the bundle tiny.cmake packs (hello, argv "tiny").
    main_c = (REPO / "zephyr_app" / "src" / "tiny" / "main.c").read_text()
    assert '"Ocre tiny: bundle at 0x%08x: "' in main_c and '"%u container(s)\\n"' in main_c
    lines = [
        "Ocre tiny: bundle at 0x00030000: 1 container(s)",
        "Ocre tiny: starting container hello (20746 bytes)",
        "Hello, tiny! powered by Ocre",
        "Ocre tiny: container hello exited with status 0",
        "Ocre tiny: done",
    ]
    import re

    for regex, line in zip(s["harness_config"]["regex"], lines, strict=True):
        assert re.search(regex, line), (regex, line)
    # The full-profile scenarios keep qemu_cortex_m3 out (min_ram above 64, not in their platform_allow).
    boot = _twister_scenario("app.ocre.boot")
    assert boot["min_ram"] > 64 and "qemu_cortex_m3" not in boot["platform_allow"]


def test_west_ocre_test_covers_the_tiny_scenario(ocre_cli) -> None:  # type: ignore[no-untyped-def]
    res = ocre_cli("zephyr", "test", "-p", "qemu_cortex_m3", "--dry-run")
    assert res.code == 0
    assert "west twister -T" in res.out and "zephyr_app" in res.out and "-p qemu_cortex_m3" in res.out


def test_other_boards_get_a_generated_bundle_overlay(tmp_path: Path) -> None:
    from ocre_py.zephyr.board.database import get_board
    from ocre_py.zephyr.firmware.build import DEFAULT_APP, BuildRequest
    from ocre_py.zephyr.project.config import OcreConfig

    board = get_board("mps2/an385")

    class _Ctx:  # west config without a workspace
        def config(self, key: str, default: object = None) -> object:
            return default

    plan = tiny_plan.plan_tiny_build(
        PlanContext(BuildRequest(), _Ctx(), DEFAULT_APP, OcreConfig(), "mps2/an385", "-b",
                    board, tmp_path / "b")  # type: ignore[arg-type]
    )  # fmt: skip
    overlay = next(text for path, text in plan.files.items() if path.name == "tiny.overlay")
    t = tiny_profile.tiny_target(board)
    assert t.bundle_addr == board.flash.base + board.flash.size - t.bundle_size
    assert f"ocre_bundle_partition: partition@{t.bundle_addr - board.flash.base:x} {{" in overlay
    assert f"-DOCRE_TINY_BUNDLE_ADDR=0x{t.bundle_addr:x}" in plan.command
    assert any(a.startswith("-DEXTRA_DTC_OVERLAY_FILE=") and a.endswith("tiny.overlay") for a in plan.command)
    assert t.pool_size <= tiny_profile.MAX_POOL


def test_run_a_tiny_build_dir_places_its_bundle(
    ocre_cli, tiny_containers, test_firmware, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`ocre zephyr run -d BUILD` on a tiny build: the board and profile come from CMakeCache.txt, the
    address from the build's ocre_bundle_partition, the bundle from tiny.cmake's default output. The
    Zephyr ELF is stood in for by the bare-metal bundle-walk firmware (no Zephyr tree here)."""
    import shutil

    build = tmp_path / "build"
    (build / "zephyr").mkdir(parents=True)
    (build / "ocre_tiny").mkdir()
    (build / "CMakeCache.txt").write_text(
        "CACHED_BOARD:STRING=qemu_cortex_m3\nOCRE_PROFILE:UNINITIALIZED=tiny\n"
    )
    (build / "zephyr" / "zephyr.dts").write_text(ZEPHYR_DTS)
    shutil.copy(test_firmware, build / "zephyr" / "zephyr.elf")
    w = b.BundleWriter()
    w.add("hello", tiny_containers["hello"].read_bytes(), args=["tiny"])
    w.write(build / "ocre_tiny" / "bundle.bin")
    assert build_dir.profile(build) == "tiny"
    run = ocre_cli(
        "zephyr", "run", "-d", build, "--expect", "OCRE-BUNDLE at 0x00030000",
        "--expect", r"entry hello size=\d+ sha256=[0-9a-f]{64} ok", "--expect", "done rc=0",
        "--timeout", "10s",
    )  # fmt: skip
    assert run.code == 0, run.out + run.err
