"""``-v HOST:GUEST`` as WASI runtimes and Docker do it: a mount at ``/`` (D10) and missing host
directories created."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.test_cli_run import ocre


def test_a_mount_at_root_serves_files_through_slash(tmp_path: Path, cat: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "motd").write_text("through the root mount\n")
    r = ocre("run", "-v", f"{root}:/", cat, "/etc/motd")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "through the root mount\n"


def test_a_mount_at_root_with_the_filesystem_capability_is_refused_in_one_line(
    tmp_path: Path, cat: Path
) -> None:
    r = ocre("run", "-k", "filesystem", "-v", f"{tmp_path}:/", cat, "/x")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "ocre: error: mount" in r.stderr
    assert "'/'" in r.stderr and "filesystem" in r.stderr, r.stderr


def test_a_missing_host_directory_is_created(tmp_path: Path, cat: Path) -> None:
    host = tmp_path / "new" / "data"
    r = ocre("run", "-v", f"{host}:/data", cat, "/data/nothing")
    assert host.is_dir(), "created like Docker's -v"
    assert r.returncode == 1 and "cannot open /data/nothing" in r.stderr


def test_a_host_file_is_not_a_mount(tmp_path: Path, cat: Path) -> None:
    (tmp_path / "file").write_text("")
    r = ocre("run", "-v", f"{tmp_path}/file:/data", cat)
    assert r.returncode == 2 and "a host directory before ':' (not a file)" in r.stderr, r.stderr
