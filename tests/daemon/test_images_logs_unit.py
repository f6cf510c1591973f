"""The daemon's flat image directory, rotating container logs, and the systemd unit."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ocre_py.daemon import Daemon, DaemonOptions
from ocre_py.daemon.logs import ContainerLog

from .conftest import wait_until


def test_images_import_ls_rm(ocre_cli, daemon: Daemon, examples: dict[str, Path], tmp_path: Path) -> None:
    hello = examples["hello"]
    r = ocre_cli("daemon", "images", "import", hello, "greeter.wasm")
    assert (r.code, r.out) == (0, "greeter.wasm\n")
    digest = hashlib.sha256(hello.read_bytes()).hexdigest()
    assert r.err == f"Digest: {digest}\n"
    assert (daemon.workdir / "images" / "greeter.wasm").read_bytes() == hello.read_bytes()
    ls = ocre_cli("daemon", "images", "ls").out
    assert ls == "SHA-256" + "\t" * 9 + f"SIZE\tNAME\n{digest}\t{hello.stat().st_size}\tgreeter.wasm\n"
    # A container uses it by name; rm refuses while it exists, unless --force.
    assert ocre_cli("create", "-n", "g", "greeter.wasm").code == 0
    r = ocre_cli("daemon", "images", "rm", "greeter.wasm")
    assert r.code == 1 and "image greeter.wasm is used by container(s) g" in r.err
    assert ocre_cli("rm", "g").code == 0
    assert ocre_cli("daemon", "images", "rm", "greeter.wasm").out == "greeter.wasm\n"
    r = ocre_cli("daemon", "images", "rm", "greeter.wasm")
    assert r.code == 1 and "no such image: greeter.wasm" in r.err
    junk = tmp_path / "junk.wasm"
    junk.write_text("not wasm")
    r = ocre_cli("daemon", "images", "import", junk)
    assert r.code == 2 and "expected a WebAssembly module" in r.err


def test_log_rotation_and_followers(tmp_path: Path) -> None:
    log = ContainerLog(tmp_path / "c", max_bytes=1024, max_files=3)
    line = b"x" * 99 + b"\n"
    follower = 0
    seen = b""
    for i in range(40):
        log.write(line)
        if i % 7 == 0:
            data, follower = log.read_from(follower)
            seen += data
    data, follower = log.read_from(follower)
    seen += data
    assert seen == line * 40, "a follower lost or repeated bytes across rotations"
    files = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert files == ["container.log", "container.log.1", "container.log.2"]
    assert all(p.stat().st_size <= 1024 for p in (tmp_path / "c").iterdir())
    kept, end = log.read_from(0)
    assert end == 4000 and len(kept) <= 3 * 1024 and kept.endswith(line)
    assert log.read_from(log.tail_position(2))[0] == line * 2
    # A new log object (daemon restart) continues the same positions.
    again = ContainerLog(tmp_path / "c", max_bytes=1024, max_files=3)
    assert again.read_from(0)[0] == kept


def test_daemon_caps_container_logs(tmp_path: Path, examples: dict[str, Path]) -> None:
    import shutil

    daemon = Daemon(tmp_path / "wd", options=DaemonOptions(log_max_bytes=2048, log_max_files=2))
    try:
        shutil.copy(examples["blinky"], tmp_path / "wd" / "images" / "blinky.wasm")
        daemon.create(
            {"image": "blinky.wasm", "name": "b", "args": ["0", "5"], "capabilities": ["ocre:api"]},
            start=True,
        )
        logs = tmp_path / "wd" / "logs" / "b"
        wait_until(lambda: (logs / "container.log.1").exists(), 20, "a rotation")
        daemon.kill("b")
        assert sorted(p.name for p in logs.iterdir()) == ["container.log", "container.log.1"]
        assert all(p.stat().st_size <= 2048 for p in logs.iterdir())
    finally:
        daemon.close()


def test_install_unit(ocre_cli, tmp_path: Path) -> None:
    target = tmp_path / "ocre.service"
    r = ocre_cli("daemon", "install-unit", "-o", target, "-H", "tcp://0.0.0.0:2375")
    assert r.code == 0 and r.out == f"{target}\n" and "systemctl daemon-reload" in r.err
    text = target.read_text()
    assert "\nExecStart=" in text and " daemon -H tcp://0.0.0.0:2375 --shutdown-grace 5\n" in text
    assert "WantedBy=multi-user.target" in text and "StateDirectory=ocre" in text
    assert target.stat().st_mode & 0o777 == 0o644
    user = ocre_cli("daemon", "install-unit", "--user", "--stdout").out
    assert "WantedBy=default.target" in user and "StateDirectory" not in user
    r = ocre_cli("daemon", "install-unit", "--stdout", "-H", "udp://x")
    assert r.code == 2 and "daemon address 'udp://x'" in r.err


def test_run_an_image_of_the_local_store(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    """A NAME:TAG of the OCI store (``ocre image``) is exported to the daemon's flat directory."""
    r = ocre_cli("image", "build", "-t", "greet:1", examples["hello"])
    assert r.code == 0, r.err
    r = ocre_cli("daemon", "images", "import", "greet:1")
    assert (r.code, r.out) == (0, "greet.wasm\n"), r.err
    cid = ocre_cli("run", "-d", "greet:1", "store").out.strip()
    assert ocre_cli("wait", cid).out == "0\n"
    assert "Hello, store! powered by Ocre" in ocre_cli("logs", cid).out
    r = ocre_cli("run", "-d", "nothing:9")
    assert r.code == 2
    assert "image 'nothing:9': expected an existing .wasm file, a file in <workdir>/images" in r.err
