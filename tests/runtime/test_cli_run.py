"""``ocre run`` / ``ocre build`` / ``ocre version`` end to end, as a user types them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

OCRE = [sys.executable, "-m", "ocre_py"]


def ocre(*args: object, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OCRE, *map(str, args)], input=stdin.decode() if stdin is not None else "", capture_output=True,
        text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_hello_args_env_stdout_and_exit_code(examples) -> None:
    r = ocre("run", "-e", "GREETING=Hi", examples["hello"], "world")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "Hi, world! powered by Ocre"
    assert f"argv[0]={examples['hello']}" in r.stdout
    assert ocre("run", "-e", "EXIT_CODE=3", examples["hello"]).returncode == 3
    assert ocre("run", "-e", "EXIT_CODE=-1", examples["hello"]).returncode == 255


def test_print_args_second_line_and_options_before_image(print_args: Path) -> None:
    r = ocre("run", "-e", "A=1", "-e", "B=x=y", print_args, "Zirigdum!", "-e", "not-an-option")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == "argv[1]=Zirigdum!", "argv[0] is the image path, then the user's arguments"
    assert lines[2] == "argv[2]=-e", "everything after the image is the container's argv"
    assert lines[4:6] == ["env A=1", "env B=x=y"], "environment entries verbatim and in order"


def test_cat_copies_stdin_to_stdout_and_stderr(cat: Path) -> None:
    r = ocre("run", cat, stdin=b"line one\nline two\n")
    assert r.returncode == 0 and r.stdout == "line one\nline two\n"
    r = ocre("run", cat, "-e", stdin=b"to stderr\n")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "to stderr\n"


def test_trap_exits_non_zero_with_the_message(misbehave: Path) -> None:
    r = ocre("run", misbehave, "trap")
    assert r.returncode == 134
    assert "about to trap" in r.stdout
    assert "trapped: wasm trap: wasm `unreachable` instruction executed" in r.stderr


def test_limits_from_the_command_line(misbehave: Path) -> None:
    assert ocre("run", "--timeout", "300ms", misbehave, "spin").returncode == 124
    assert ocre("run", "--cpu-budget", "0.2", misbehave, "spin").returncode == 152
    r = ocre("run", "--memory", "2M", misbehave, "memhog")
    assert r.returncode == 0 and int(r.stdout.split("allocated ")[1]) < 2 * 1024 * 1024


def test_start_failure_exits_125_with_the_reason(examples) -> None:
    r = ocre("run", "--memory", "64K", examples["hello"])
    assert r.returncode == 125
    assert r.stderr.startswith("ocre: error: container ") and "failed to start" in r.stderr


def test_ctrl_c_kills_an_attached_container(examples) -> None:
    proc = subprocess.Popen(
        [*OCRE, "run", "-k", "ocre:api", examples["blinky"], "0", "50"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("blinky: toggling led0")
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=5) == 130


def test_filesystem_and_mount_from_the_command_line(tmp_path: Path, examples) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = ("run", "-n", "files", "-k", "filesystem", "-v", f"{out}:/data", examples["files"], "/data")
    assert ocre(*args).returncode == 0
    r = ocre(*args)
    assert r.returncode == 0 and "files: run 2" in r.stdout
    assert (out / "report.txt").read_text() == "files container, run 2\n"
    assert ocre("run", "--rm", *args[1:]).returncode == 0
    assert not (tmp_path / "ocre-home" / "containers" / "files").exists(), "--rm deletes the data dir"


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d, h: ("run", d / "missing.wasm"), "missing.wasm"),
        (lambda d, h: ("run", d / "notes.txt"), "not a WebAssembly module"),
        (lambda d, h: ("run", d / "broken.wasm"), "malformed WebAssembly module"),
        (lambda d, h: ("run", "-v", "relative:/data", h), "mount 'relative:/data'"),
        (lambda d, h: ("run", "-v", f"{d}/notes.txt:/data", h), "a host directory before ':'"),
        (lambda d, h: ("run", "-n", "Bad/Name", h), "container ID 'Bad/Name'"),
        (lambda d, h: ("run", "-k", "root", h), "capability 'root'"),
        (lambda d, h: ("run", "--memory", "lots", h), "--memory 'lots'"),
        (lambda d, h: ("run", "-r", "wamr/wasip1", h), "runtime 'wamr/wasip1'"),
        (lambda d, h: ("run", "no-such-image"), "image 'no-such-image'"),
        (lambda d, h: ("build", d / "nope.c", "-o", d / "x.wasm"), "source file"),
        (lambda d, h: ("build", h, "-o", d / "x.wasm", "--memory-max", "1000"), "--memory-max 1000"),
    ],
    ids=["missing", "not-wasm", "malformed", "relative-mount", "file-mount", "bad-name",
         "unknown-cap", "bad-size", "bad-runtime", "unknown-image", "missing-source", "bad-pages"],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, examples, make_args, message: str) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.wasm").write_bytes(b"\0asm\x01\0\0\0\x05garbage")
    r = ocre(*make_args(tmp_path, examples["hello"]))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ocre: error: ") and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_build_compile_error_is_one_clear_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.c"
    src.write_text("int main(void) { return missing_symbol; }\n")
    r = ocre("build", src, "-o", tmp_path / "bad.wasm")
    assert r.returncode == 1
    assert r.stderr.startswith(f"ocre: error: compiling {src} failed: ") and "missing_symbol" in r.stderr
    assert not (tmp_path / "bad.wasm").exists(), "nothing half-written"


def test_build_options_and_json(tmp_path: Path) -> None:
    hello = Path(__file__).parents[2] / "examples" / "hello" / "hello.c"
    out = tmp_path / "h.wasm"
    r = ocre("build", hello, "-o", out, "-Os", "--stack", "8K", "--memory-max", "1M", "--json")
    assert r.returncode == 0, r.stderr
    assert '"size": ' in r.stdout and out.read_bytes()[:4] == b"\0asm"
    assert "-Wl,-z,stack-size=8192" in r.stdout and "-Wl,--max-memory=1048576" in r.stdout
    assert ocre("run", out).returncode == 0


def test_version_has_four_non_empty_lines() -> None:
    r = ocre("version")
    lines = r.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines] == [
        "Ocre version",
        "Commit ID",
        "Build information",
        "Build date",
    ]
    assert all(ln.split(":", 1)[1].strip() for ln in lines)


def test_run_an_image_from_the_store_by_name(tmp_path: Path) -> None:
    hello = Path(__file__).parents[2] / "examples" / "hello" / "hello.c"
    build = ocre("image", "build", "-t", "hello:1", hello)
    assert build.returncode == 0, build.stderr
    r = ocre("run", "-e", "GREETING=Hey", "hello:1", "store")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "Hey, store! powered by Ocre"
    exported = tmp_path / "ocre-home" / "images" / "hello.wasm"
    assert f"argv[0]={exported}" in r.stdout, "argv[0] is <workdir>/images/<name>, as on the device"
    assert ocre("key", "generate", "ci").returncode == 0
    refused = ocre("run", "--require-signature", "hello:1")
    assert refused.returncode != 0 and refused.stderr.startswith("ocre: error: ") and "sign" in refused.stderr
    assert ocre("image", "sign", "--key", "ci", "hello:1").returncode == 0
    signed = ocre("run", "--require-signature", "hello:1")
    assert signed.returncode == 0 and "powered by Ocre" in signed.stdout, signed.stderr
    bare = ocre("run", "--require-signature", exported)
    assert bare.returncode == 2 and "signed image" in bare.stderr


def test_missing_clang_names_the_debian_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hello = Path(__file__).parents[2] / "examples" / "hello" / "hello.c"
    monkeypatch.setenv("PATH", str(tmp_path))  # no clang anywhere
    r = subprocess.run(
        [sys.executable, "-m", "ocre_py", "build", str(hello), "-o", str(tmp_path / "h.wasm")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode == 1
    assert "required program 'clang' not found" in r.stderr
    assert "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32" in r.stderr
    out = str(tmp_path / "h.wasm")
    cmd = [sys.executable, "-m", "ocre_py", "build", "--import-memory", str(hello), "-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert "clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32" in r.stderr


def test_build_tiny_makes_a_one_page_module_that_still_runs(tmp_path: Path) -> None:
    from ocre_py.image.wasm import parse_module

    hello = Path(__file__).parents[2] / "examples" / "hello" / "hello.c"
    out = tmp_path / "tiny.wasm"
    r = ocre("build", "--tiny", hello, "-o", out)
    assert r.returncode == 0, r.stderr
    module = parse_module(out.read_bytes())
    assert module.memory is not None and (module.memory.minimum, module.memory.maximum) == (1, 1)
    assert {"__heap_base", "__data_end"} <= {name for name, _ in module.exports}, (
        "WAMR shrinks memory by these"
    )
    run = ocre("run", out, "tiny")
    assert run.returncode == 0 and "Hello, tiny! powered by Ocre" in run.stdout
