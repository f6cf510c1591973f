"""The autostart file: Python writes it, the firmware's C parser (compiled here) reads it back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.zephyr.storage import autostart
from ocre_py.zephyr.storage.autostart import AutostartEntry
from tests.conftest import OCRE_INCLUDES, ocre_runtime_dir, require_program

REPO = Path(__file__).resolve().parents[2]
ENTRIES = [
    AutostartEntry("hello", "hello.wasm", args=("world", "two words"), env=(("GREETING", "Hi"),)),
    AutostartEntry("sensor", "sensor.wasm", capabilities=("filesystem", "ocre:api"), detached=False),
    AutostartEntry("bare", "bare.aot", detached=True),
]

DRIVER = r"""
#include <stdio.h>
#include "autostart.h"
static struct autostart_list list;
static void dump(const char *tag, const char **a) {
    printf("%s", tag);
    for (int i = 0; a[i]; i++) printf("|%s", a[i]);
    printf("\n");
}
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int bad = 0;
    int rc = autostart_load(argv[1], &list, &bad);
    if (rc) { printf("error %d line %d\n", rc, bad); return 0; }
    for (int i = 0; i < list.count; i++) {
        struct autostart_entry *e = &list.entries[i];
        printf("entry %s %s %d\n", e->name, e->image, e->detached);
        dump("argv", e->argv); dump("envp", e->envp); dump("caps", e->capabilities);
    }
    return 0;
}
"""


def test_text_format():
    assert (
        autostart.render(ENTRIES[:1])
        == "ocre-autostart 1\nhello\thello.wasm\tdetached\tenv:GREETING=Hi\tworld\ttwo words\n"
    )


def test_round_trip_in_python():
    assert autostart.parse(autostart.render(ENTRIES)) == ENTRIES


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (AutostartEntry("Bad Name", "x.wasm"), "name 'Bad Name'"),
        (AutostartEntry("ok", "dir/x.wasm"), "image 'dir/x.wasm'"),
        (AutostartEntry("ok", "x.wasm", args=("a\tb",)), "args 'a"),
        (AutostartEntry("ok", "x.wasm", capabilities=("Net",)), "capabilities 'Net'"),
    ],
)
def test_refuses_what_the_firmware_could_not_read(entry: AutostartEntry, fragment: str):
    with pytest.raises(InvalidInput, match=fragment):
        autostart.render([entry])


def test_limits_of_the_firmware_tables():
    with pytest.raises(InvalidInput, match="entries 9: expected at most 8 containers"):
        autostart.render([AutostartEntry(f"c{i}", "c.wasm") for i in range(9)])
    with pytest.raises(InvalidInput, match="args '9 items': expected at most 8"):
        autostart.render([AutostartEntry("c", "c.wasm", args=tuple("abcdefghi"))])


def test_wrong_version_is_refused():
    with pytest.raises(InvalidInput, match="header 'ocre-autostart 2': expected 'ocre-autostart 1'"):
        autostart.parse("ocre-autostart 2\n")


@pytest.fixture(scope="module")
def c_parser(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = require_program("gcc")
    out = tmp_path_factory.mktemp("autostart") / "parse"
    driver = out.with_suffix(".c")
    driver.write_text(DRIVER)
    src = REPO / "zephyr_app" / "src"
    flags = ["-std=c17", "-Wall", "-Wextra", "-Werror", f"-I{src}"]
    subprocess.run([cc, *flags, str(driver), str(src / "autostart.c"), "-o", str(out)], check=True)
    return out


def test_c_parser_reads_what_python_writes(c_parser: Path, tmp_path: Path):
    f = tmp_path / "autostart"
    f.write_text(autostart.render(ENTRIES).replace("\n", "\n# a comment\n\n", 1))
    out = subprocess.run([str(c_parser), str(f)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "entry hello hello.wasm 1", "argv|world|two words", "envp|GREETING=Hi", "caps",
        "entry sensor sensor.wasm 0", "argv", "envp", "caps|filesystem|ocre:api",
        "entry bare bare.aot 1", "argv", "envp", "caps",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ocre-autostart 2\n", "error -22 line 1"),
        ("ocre-autostart 1\nonly-two\tfields\n", "error -22 line 2"),
        ("ocre-autostart 1\na\ta.wasm\tsuspended\n", "error -22 line 2"),
        ("ocre-autostart 1\n" + "".join(f"c{i}\tc.wasm\t-\n" for i in range(9)), "error -7 line 10"),
        ("ocre-autostart 1\n" + "#" * 5000 + "\n", "error -27 line 0"),  # -EFBIG: the file, no line
    ],
)
def test_c_parser_refuses_bad_files(c_parser: Path, tmp_path: Path, text: str, expected: str):
    f = tmp_path / "autostart"
    f.write_text(text)
    out = subprocess.run([str(c_parser), str(f)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == expected


def test_c_parser_reports_a_missing_file(c_parser: Path, tmp_path: Path):
    out = subprocess.run([str(c_parser), str(tmp_path / "none")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "error -2 line 0"


OCRE_API_STUB = """
/* Declarations of upstream Ocre's public API (ocre-runtime src/ocre/include/ocre headers at the pinned
 * commit), written for this test so main.c's calls are type-checked without the Ocre tree. */
#include <stdbool.h>
#include <unistd.h>
struct ocre_context; struct ocre_container; struct ocre_runtime_vtable;
struct ocre_config {
  const char *version; const char *commit_id; const char *build_info; const char *build_date;
};
extern const struct ocre_config ocre_build_configuration;
struct ocre_container_args {
  const char **argv; const char **envp; const char **capabilities; const char **mounts;
};
typedef enum { OCRE_CONTAINER_STATUS_UNKNOWN = 0, OCRE_CONTAINER_STATUS_CREATED,
  OCRE_CONTAINER_STATUS_RUNNING, OCRE_CONTAINER_STATUS_PAUSED, OCRE_CONTAINER_STATUS_EXITED,
  OCRE_CONTAINER_STATUS_STOPPED, OCRE_CONTAINER_STATUS_ERROR } ocre_container_status_t;
int ocre_initialize(const struct ocre_runtime_vtable *const vtable[]);
struct ocre_context *ocre_create_context(const char *workdir);
int ocre_destroy_context(struct ocre_context *context);
void ocre_deinitialize(void);
struct ocre_container *ocre_context_create_container(struct ocre_context *context,
  const char *image, const char *const runtime, const char *container_id, bool detached,
  const struct ocre_container_args *arguments, int stdin_fd, int stdout_fd, int stderr_fd);
const char *ocre_context_get_working_directory(const struct ocre_context *context);
int ocre_container_start(struct ocre_container *container);
int ocre_container_wait(struct ocre_container *container, int *status);
ocre_container_status_t ocre_container_get_status(struct ocre_container *container);
const char *ocre_container_get_id(const struct ocre_container *container);
"""


def test_main_c_compiles_against_the_ocre_api(tmp_path: Path):
    cc = require_program("gcc")
    (tmp_path / "ocre").mkdir()
    (tmp_path / "ocre" / "ocre.h").write_text(OCRE_API_STUB)
    src = REPO / "zephyr_app" / "src"
    subprocess.run([cc, "-std=c17", "-Wall", "-Wextra", "-Werror", f"-I{tmp_path}", f"-I{src}", "-c",
                    str(src / "main.c"), "-o", str(tmp_path / "main.o")], check=True)  # fmt: skip


def test_main_c_compiles_against_the_pinned_ocre_headers(tmp_path: Path):
    """The stub above cannot notice a change in the real API: with ocre-runtime at hand, compile
    against its headers (tests/zephyr/test_glue_on_ocre_posix.py also links and runs the glue)."""
    root = ocre_runtime_dir()
    cc = require_program("gcc")
    src = REPO / "zephyr_app" / "src"
    includes = [f"-I{root / i}" for i in OCRE_INCLUDES]
    subprocess.run([cc, "-std=gnu99", "-Wall", "-Wextra", "-Werror", *includes, f"-I{src}", "-c",
                    str(src / "main.c"), "-o", str(tmp_path / "main.o")], check=True)  # fmt: skip
