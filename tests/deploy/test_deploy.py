"""``deploy`` end to end: the files/device/qemu/native_sim targets, --list, --json, and Linux."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocre_py.zephyr import deploy as dep
from ocre_py.zephyr.storage import hexfile
from ocre_py.zephyr.storage.littlefs import Partition, detect_geometry
from tests.conftest import padded_module

DTS = Path(__file__).parent / "dts"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def wasm(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, size in (("hello.wasm", 12_000), ("sensor.wasm", 30_000)):
        p = tmp_path / "src" / name
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(padded_module(size))
        out[name] = p
    return out


def fake_build(
    tmp_path: Path, dts: str, board: str, *, app_hex: bool = False, runners: str | None = None
) -> Path:
    """A build directory as Zephyr leaves it, with only the files deploy reads."""
    b = tmp_path / "build"
    (b / "zephyr").mkdir(parents=True)
    (b / "zephyr" / "zephyr.dts").write_text((DTS / dts).read_text())
    (b / "CMakeCache.txt").write_text(
        f"CACHED_BOARD:STRING={board}\nZEPHYR_TOOLCHAIN_VARIANT:STRING=zephyr\n"
    )
    if app_hex:
        hexfile.write_hex(b / "zephyr" / "zephyr.hex", b"\x00\x10\x00\x20" * 256, 0x08000000)
    if runners:
        (b / "zephyr" / "runners.yaml").write_text(runners)
    return b


def test_files_target_writes_bin_and_hex_and_lists(zephyr_cli, wasm, tmp_path: Path) -> None:
    out = tmp_path / "out" / "storage.bin"
    r = zephyr_cli(
        "deploy", wasm["hello.wasm"], "-b", "nucleo_u575zi_q", "-o", out, "--autostart", "-e", "A=1"
    )
    assert r.code == 0, r.err
    assert "hello.wasm" in r.out and "wrote storage.hex" in r.out
    geometry = detect_geometry(out.read_bytes())
    assert geometry.erase_block == 8192
    # nucleo_u575zi_q: storage appended at the end; erased blocks are left out of the HEX
    segments = hexfile.read_hex(out.with_suffix(".hex"))
    assert min(segments) == 0x081C0000 and max(segments) < 0x081C0000 + 0x40000
    assert hexfile.read_image(out.with_suffix(".hex"), 0x081C0000, 0x40000) == out.read_bytes()
    # a second deploy into the same file keeps the first container
    r = zephyr_cli("deploy", wasm["sensor.wasm"], "-b", "nucleo_u575zi_q", "-o", out, "--json")
    data = json.loads(r.out)
    assert [i["name"] for i in data["images"]] == ["hello.wasm", "sensor.wasm"]
    assert data["target"] == "files" and data["geometry"]["address"] == 0x081C0000
    # --list reads the file back (geometry from its superblock), table and JSON
    r = zephyr_cli("deploy", "--list", out)
    assert r.code == 0 and r.out.splitlines()[0].split() == ["IMAGE", "SIZE", "AUTOSTART", "SHA256"]
    assert "yes" in r.out.splitlines()[1]
    listed = json.loads(zephyr_cli("deploy", "--list", out, "--json").out)
    assert [(i["name"], i["autostart"]) for i in listed] == [("hello.wasm", True), ("sensor.wasm", False)]


def test_replace_drops_previous_images(zephyr_cli, wasm, tmp_path: Path) -> None:
    out = tmp_path / "o.bin"
    zephyr_cli("deploy", wasm["hello.wasm"], "-b", "nucleo_u575zi_q", "-o", out)
    r = zephyr_cli("deploy", wasm["sensor.wasm"], "-b", "nucleo_u575zi_q", "-o", out, "--replace", "--json")
    assert [i["name"] for i in json.loads(r.out)["images"]] == ["sensor.wasm"]


def test_overflow_is_one_line_and_writes_nothing(zephyr_cli, wasm, tmp_path: Path) -> None:
    out = tmp_path / "o.bin"
    # the stock internal 64 KiB partition with 8 KiB blocks
    r = zephyr_cli("deploy", wasm["hello.wasm"], "-b", "b_u585i_iot02a", "--medium", "internal", "-o", out)
    assert r.code == 1
    first = r.err.splitlines()[0]
    assert first.startswith("ocre: error: containers do not fit: need ") and "has 65536 bytes" in first
    assert first.endswith("it holds 0 container(s) of 12015 bytes")  # 8 blocks: dirs take 8
    assert not out.exists() and list(tmp_path.glob("*.tmp")) == []


def test_b_u585i_default_storage_holds_several_real_containers(zephyr_cli, examples, tmp_path: Path) -> None:
    """Issue 11: the default was the internal 64 KiB partition, which held not even hello. The
    default is now upstream Ocre's: 16 MiB on the OSPI NOR; the HEX leaves erased blocks out."""
    sources = []
    for i in range(8):
        p = tmp_path / f"app{i}.wasm"
        p.write_bytes(examples["hello"].read_bytes())
        sources.append(p)
    out = tmp_path / "out"
    r = zephyr_cli("deploy", *sources, "-b", "b_u585i_iot02a", "-o", out, "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["geometry"]["address"] == 0x70000000 and len(data["images"]) == 8
    assert (out / "storage.bin").stat().st_size == 16 * 1024 * 1024
    segments = hexfile.read_hex(out / "storage.hex")
    assert sum(len(b) for b in segments.values()) <= data["used_bytes"]  # only blocks in use
    image = hexfile.read_image(out / "storage.hex", 0x70000000, 16 * 1024 * 1024)
    assert image == (out / "storage.bin").read_bytes()
    listed = Partition.from_bytes(image, detect_geometry(image)).images()
    assert len(listed) == 8


def test_deploy_refuses_what_is_not_a_wasm_module(zephyr_cli, tmp_path: Path) -> None:
    """Issue 11: 300 random bytes went into storage.bin. Every container is checked first."""
    junk = tmp_path / "junk.wasm"
    junk.write_bytes(os.urandom(300))
    out = tmp_path / "out"
    r = zephyr_cli("deploy", junk, "-b", "mps2/an385", "-o", out)
    assert r.code == 1 and len(r.err.splitlines()) == 1
    assert r.err.startswith(f"ocre: error: {junk}: not a wasm module") and not out.exists()
    fake = tmp_path / "fake.wasm"
    fake.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(300))  # a header is not enough
    r = zephyr_cli("deploy", fake, "-b", "mps2/an385", "-o", out)
    assert r.code == 1 and f"{fake}: not a valid wasm module" in r.err and not out.exists()


def test_build_dir_geometry_and_merged_hex(zephyr_cli, wasm, tmp_path: Path) -> None:
    b = fake_build(tmp_path, "b_u585i_fixed.dts", "b_u585i_iot02a", app_hex=True)
    r = zephyr_cli("deploy", wasm["hello.wasm"], "-d", b, "-o", tmp_path / "o", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["geometry"]["address"] == 0x080F0000 and data["geometry"]["size"] == 0x80000
    merged = hexfile.read_hex(data["files"]["merged.hex"])
    assert min(merged) == 0x08000000 and 0x080F0000 in merged  # app, then the storage blocks in use
    storage = hexfile.read_image(data["files"]["merged.hex"], 0x080F0000, 0x80000)
    assert storage == Path(data["files"]["storage.bin"]).read_bytes()


def test_unknown_board_and_missing_file_are_input_errors(zephyr_cli, tmp_path: Path) -> None:
    r = zephyr_cli("deploy", tmp_path / "nope.wasm", "-b", "nucleo_u575zi_q", "-o", tmp_path / "o.bin")
    assert r.code == 2 and "IMAGE" in r.err and "nope.wasm" in r.err
    (tmp_path / "x.wasm").write_bytes(b"\0asm")
    r = zephyr_cli("deploy", tmp_path / "x.wasm", "-b", "no_such_board", "-o", tmp_path / "o.bin")
    assert r.code == 1 and "unknown board 'no_such_board'" in r.err


def test_device_refuses_full_chip_erase_runner(zephyr_cli, wasm, tmp_path: Path) -> None:
    runners = (
        "flash-runner: stm32cubeprogrammer\nargs:\n  stm32cubeprogrammer: [--port=swd, --erase]\n"
        "  pyocd: [--target=stm32u585aiix]\n"
    )
    b = fake_build(tmp_path, "b_u585i_fixed.dts", "b_u585i_iot02a", app_hex=True, runners=runners)
    r = zephyr_cli("deploy", wasm["hello.wasm"], "-d", b, "--runner", "stm32cubeprogrammer", "--dry-run")
    assert r.code == 1
    assert "runner stm32cubeprogrammer erases the whole chip" in r.err and "--merged" in r.err
    r = zephyr_cli("deploy", wasm["hello.wasm"], "-d", b, "--merged", "--dry-run", "--json")
    assert r.code == 0, r.err
    cmd = json.loads(r.out)["command"]
    assert cmd[:4] == ["west", "flash", "-d", str(b)] and cmd[-2:] == [
        "--hex-file",
        str(b / "ocre" / "merged.hex"),
    ]


def test_device_incremental_with_injected_probe(wasm, tmp_path: Path) -> None:
    from tests.deploy.test_hex_delta_flasher import FakeFlash

    b = fake_build(tmp_path, "b_u585i_fixed.dts", "b_u585i_iot02a")
    dev = FakeFlash(0x080F0000, 0x80000, 8192)
    req = dep.DeployRequest(sources=[str(wasm["hello.wasm"])], build_dir=b)
    first = dep.deploy(req, device=dev)
    assert first.target == "device" and first.flash["blocks_changed"] < 64
    assert (b / "ocre" / "deployed.bin").read_bytes() == dev.read(0x080F0000, 0x80000)
    req2 = dep.DeployRequest(sources=[str(wasm["sensor.wasm"])], build_dir=b)
    second = dep.deploy(req2, device=FakeFlashFrom(dev))
    f = second.flash
    assert f["blocks_changed"] <= 7 and f["bytes_erased"] == f["blocks_changed"] * 8192
    assert f["bytes_skipped"] == (64 - f["blocks_changed"]) * 8192
    part = Partition.from_bytes(dev.read(0x080F0000, 0x80000), detect_geometry(dev.read(0x080F0000, 0x80000)))
    assert [e.name for e in part.images()] == ["hello.wasm", "sensor.wasm"]


class FakeFlashFrom:
    """Reuse one fake flash across deploys (``deploy`` closes the device it is given)."""

    def __init__(self, dev) -> None:
        self.dev = dev

    def read(self, a: int, n: int) -> bytes:
        return self.dev.read(a, n)

    def program(self, ranges, progress) -> None:
        self.dev.program(ranges, progress)

    def close(self) -> None:
        pass


def test_device_without_probe_fails_after_writing_files(zephyr_cli, wasm, tmp_path: Path) -> None:
    b = fake_build(tmp_path, "b_u585i_fixed.dts", "b_u585i_iot02a")
    r = zephyr_cli("deploy", wasm["hello.wasm"], "-d", b)
    assert r.code == 1 and "no debug probe connected" in r.err
    assert (b / "ocre" / "storage.bin").is_file() and not (b / "ocre" / "deployed.bin").exists()


def test_native_sim_target_writes_flash_bin(zephyr_cli, wasm, tmp_path: Path) -> None:
    b = fake_build(tmp_path, "native_sim.dts", "native_sim/native/64")
    r = zephyr_cli("deploy", wasm["hello.wasm"], "-d", b, "--native-sim", "--json")
    assert r.code == 0, r.err
    flash_bin = Path(json.loads(r.out)["files"]["flash.bin"])
    data = flash_bin.read_bytes()
    assert len(data) == 0x2000000 and data[:0xFC000] == b"\xff" * 0xFC000
    r = zephyr_cli("deploy", "--list", flash_bin, "-d", b, "--json")
    assert [i["name"] for i in json.loads(r.out)] == ["hello.wasm"]


def test_qemu_target_and_run_boot_the_deployed_storage(zephyr_cli, wasm, tmp_path: Path) -> None:
    b = fake_build(tmp_path, "mps2_simflash.dts", "mps2/an385")
    r = zephyr_cli("deploy", wasm["hello.wasm"], "-d", b, "--qemu", "--json")
    assert r.code == 0, r.err
    files = json.loads(r.out)["files"]
    storage = Path(files["storage.bin"]).read_bytes()
    assert hexfile.read_image(files["storage.hex"], 0x0, len(storage)) == storage


def test_linux_target_runs_the_container(examples, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """No board: import into the local runtime and run attached (there is no daemon in this build)."""
    req = dep.DeployRequest(
        sources=[str(examples["hello"])], env=["GREETING=Hi", "EXIT_CODE=3"], args=["world"]
    )
    result = dep.deploy(req)
    out = capfd.readouterr().out
    assert "Hi, world! powered by Ocre" in out
    assert result.target == "linux" and result.exit_code == 3
    assert (Path(os.environ["OCRE_HOME"]) / "images" / "hello.wasm").read_bytes() == examples[
        "hello"
    ].read_bytes()


def test_linux_target_through_the_cli_process(examples, tmp_path: Path) -> None:
    code = (
        "import sys; from ocre_py.cli import main, zephyr;"
        "zephyr.ZEPHYR_COMMAND_MODULES=('ocre_py.cli.zephyr.deploy',);"
        "main.COMMAND_MODULES=('ocre_py.cli.zephyr',);"
        "sys.exit(main.main(sys.argv[1:]))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "zephyr",
            "deploy",
            str(examples["hello"]),
            "-e",
            "GREETING=Hey",
            "-a",
            "you",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Hey, you! powered by Ocre" in proc.stdout


def test_image_reference_from_the_local_store(zephyr_cli, examples, tmp_path: Path) -> None:
    """An image ref (not a file) resolves through the image store and lands as <name>.wasm."""
    from ocre_py.image.build import build_from_file
    from ocre_py.image.store import ImageStore

    build_from_file(ImageStore(), "hello:1", examples["hello"])
    out = tmp_path / "s.bin"
    r = zephyr_cli("deploy", "hello:1", "-b", "nucleo_u575zi_q", "-o", out, "--json")
    assert r.code == 0, r.err
    (image,) = json.loads(r.out)["images"]
    assert image["name"] == "hello.wasm" and image["size"] == examples["hello"].stat().st_size


def test_native_sim_run_passes_flash_bin(zephyr_cli, wasm, tmp_path: Path) -> None:
    """``run -d`` on a native_sim build starts zephyr.exe with --flash=<the deployed flash.bin>.

    The executable is a stand-in script (no Zephyr here) that prints its flash argument and size.
    """
    b = fake_build(tmp_path, "native_sim.dts", "native_sim/native/64")
    exe = b / "zephyr" / "zephyr.exe"
    exe.write_text('#!/bin/sh\nf="${1#--flash=}"\necho "flash=$f size=$(stat -c %s "$f")"\necho "booted"\n')
    exe.chmod(0o755)
    assert zephyr_cli("deploy", wasm["hello.wasm"], "-d", b, "--native-sim").code == 0
    r = zephyr_cli("run", "-d", b, "--expect", r"size=33554432", "--expect", "booted", "--timeout", "10")
    assert r.code == 0, r.err
    assert f"flash={b / 'ocre' / 'flash.bin'}" in r.out


def test_list_device_reads_the_partition_through_the_probe(wasm) -> None:
    from tests.deploy.test_hex_delta_flasher import FakeFlash

    dev = FakeFlash(0x081C0000, 0x40000, 8192)
    dep.deploy(dep.DeployRequest(sources=[str(wasm["hello.wasm"])], board="nucleo_u575zi_q"), device=dev)
    listed = dep.list_device(
        dep.DeployRequest(sources=[], board="nucleo_u575zi_q"), device=FakeFlashFrom(dev)
    )
    assert [i["name"] for i in listed] == ["hello.wasm"]


def test_device_content_is_the_base_not_the_stale_record(wasm, tmp_path: Path) -> None:
    """Someone flashed another image meanwhile: the deploy keeps what the device really holds."""
    from tests.deploy.test_hex_delta_flasher import FakeFlash

    b = fake_build(tmp_path, "b_u585i_fixed.dts", "b_u585i_iot02a")
    dev = FakeFlash(0x080F0000, 0x80000, 8192)
    dep.deploy(dep.DeployRequest(sources=[str(wasm["hello.wasm"])], build_dir=b), device=FakeFlashFrom(dev))
    other = tmp_path / "other"  # a second build dir deploys sensor onto the same board
    other.mkdir()
    b2 = fake_build(other, "b_u585i_fixed.dts", "b_u585i_iot02a")
    dep.deploy(dep.DeployRequest(sources=[str(wasm["sensor.wasm"])], build_dir=b2), device=FakeFlashFrom(dev))
    third = tmp_path / "x.wasm"
    third.write_bytes(b"\0asm\x01\0\0\0")
    r = dep.deploy(dep.DeployRequest(sources=[str(third)], build_dir=b), device=FakeFlashFrom(dev))
    assert [i["name"] for i in r.images] == ["hello.wasm", "sensor.wasm", "x.wasm"]
    assert r.flash["verified_against_device"] is True


def test_device_with_foreign_data_needs_replace(wasm, tmp_path: Path) -> None:
    from ocre_py.errors import DeployError
    from tests.deploy.test_hex_delta_flasher import FakeFlash

    b = fake_build(tmp_path, "b_u585i_fixed.dts", "b_u585i_iot02a")
    dev = FakeFlash(0x080F0000, 0x80000, 8192)
    dev.mem[:16] = b"not littlefs!!!!"
    req = dep.DeployRequest(sources=[str(wasm["hello.wasm"])], build_dir=b)
    with pytest.raises(DeployError, match="not an Ocre image") as exc:
        dep.deploy(req, device=FakeFlashFrom(dev))
    assert exc.value.hint == "use --replace to overwrite it"
    req.replace = True
    assert dep.deploy(req, device=FakeFlashFrom(dev)).images[0]["name"] == "hello.wasm"


def test_full_rewrites_every_block(wasm, tmp_path: Path) -> None:
    from tests.deploy.test_hex_delta_flasher import FakeFlash

    b = fake_build(tmp_path, "b_u585i_fixed.dts", "b_u585i_iot02a")
    dev = FakeFlash(0x080F0000, 0x80000, 8192)
    req = dep.DeployRequest(sources=[str(wasm["hello.wasm"])], build_dir=b)
    dep.deploy(req, device=FakeFlashFrom(dev))
    again = dep.deploy(req, device=FakeFlashFrom(dev))
    assert again.flash["blocks_changed"] == 0
    req.full = True
    assert dep.deploy(req, device=FakeFlashFrom(dev)).flash["blocks_changed"] == 64


@pytest.mark.parametrize(
    ("dts", "board", "target"),
    [
        ("mps2_simflash.dts", "mps2/an385", "qemu"),
        ("native_sim.dts", "native_sim/native/64", "native_sim"),
        ("b_u585i_mapped.dts", "b_u585i_iot02a", "device"),
    ],
)
def test_build_dir_alone_picks_the_target_of_its_board(
    tmp_path: Path, dts: str, board: str, target: str
) -> None:
    """Found on a real Zephyr: `west ocre deploy x.wasm -d build` of a QEMU build tried to flash a
    probe; only `-b qemu_cortex_m3` gave the files `run` boots. The build's board decides now."""
    b = fake_build(tmp_path, dts, board)
    assert dep.choose_target(dep.DeployRequest(sources=[], build_dir=b)) == target
    assert dep.choose_target(dep.DeployRequest(sources=[], board=board)) == target
    assert dep.choose_target(dep.DeployRequest(sources=[], board=board, output=tmp_path)) == "files"
