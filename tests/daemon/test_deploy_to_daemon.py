"""``west ocre deploy app.wasm`` with no board and a daemon running: started detached there (issue 6)."""

from __future__ import annotations

from ocre_py.daemon import DaemonClient
from tests.daemon.conftest import wait_until


def test_deploy_without_board_starts_detached_under_the_daemon(daemon, examples, ocre_cli) -> None:
    r = ocre_cli(
        "zephyr", "deploy", "-n", "blinky", "-k", "ocre:api", "-a", "0", "-a", "50", examples["blinky"]
    )
    assert r.code == 0 and r.out == "blinky\n", r.err
    client = DaemonClient.connect()
    assert client.inspect("blinky")["status"] == "RUNNING"
    assert any(i["name"] == "blinky.wasm" for i in client.images()), "the image was imported"
    wait_until(lambda: b"blink 2" in b"".join(client.logs("blinky")), what="blinky's output in its log")
    r = ocre_cli("zephyr", "deploy", "--json", examples["hello"])
    assert r.code == 0 and '"target": "linux-daemon"' in r.out
    assert ocre_cli("kill", "blinky").code == 0
