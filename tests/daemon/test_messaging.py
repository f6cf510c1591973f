"""Messaging across the daemon's containers, and between host tools and containers."""

from __future__ import annotations

import threading
from pathlib import Path

from ocre_py.daemon import Daemon, DaemonClient

from .conftest import wait_until


def _logs(daemon: Daemon, cid: str) -> str:
    return daemon.logs(cid).read_from(0)[0].decode()


def test_container_to_container(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    api = ["-k", "ocre:api"]
    assert ocre_cli("run", "-d", "-n", "sub", *api, examples["subscriber"], "3").code == 0
    wait_until(lambda: "waiting for sensor/" in _logs(daemon, "sub"), 10, "the subscriber")
    assert ocre_cli("run", "-d", "-n", "pub", *api, examples["publisher"], "5", "50").code == 0
    assert ocre_cli("wait", "--timeout", "20", "sub").out == "0\n"
    assert ocre_cli("wait", "--timeout", "20", "pub").out == "0\n"
    received = [ln for ln in _logs(daemon, "sub").splitlines() if ln.startswith("received")]
    assert received[0] == 'received sensor/temperature [application/json]: {"seq":1,"celsius":21.1}'
    assert len(received) == 3
    assert "published 1 (delivered)" in _logs(daemon, "pub")


def test_host_to_container_and_back(ocre_cli, daemon: Daemon, examples: dict[str, Path]) -> None:
    assert ocre_cli("run", "-d", "-n", "sub", "-k", "ocre:api", examples["subscriber"], "1").code == 0
    wait_until(lambda: "waiting for sensor/" in _logs(daemon, "sub"), 10, "the subscriber")
    r = ocre_cli("publish", "sensor/door", "open", "--content-type", "text/x-door")
    assert r.code == 0, r.err
    assert ocre_cli("wait", "--timeout", "10", "sub").out == "0\n"
    assert "received sensor/door [text/x-door]: open" in _logs(daemon, "sub")

    # No subscriber left: publish fails clearly.
    r = ocre_cli("publish", "sensor/door", "closed")
    assert r.code == 1 and "no subscriber for topic 'sensor/door'" in r.err

    # Container → host: a host subscription sees what a container publishes.
    got: list[dict] = []
    ready = threading.Event()

    def listen() -> None:
        for message in DaemonClient.connect().subscribe("sensor/", count=2):
            if not message:
                ready.set()
                continue
            got.append(message)

    listener = threading.Thread(target=listen)
    listener.start()
    assert ready.wait(10)
    assert ocre_cli("run", "-d", "-n", "pub", "-k", "ocre:api", examples["publisher"], "2", "20").code == 0
    listener.join(15)
    assert not listener.is_alive()
    assert [m["payload"] for m in got] == ['{"seq":1,"celsius":21.1}', '{"seq":2,"celsius":22.2}']
    assert got[0]["topic"] == "sensor/temperature" and got[0]["content_type"] == "application/json"
    assert ocre_cli("wait", "pub").out == "0\n"
    assert "published 1 (delivered)" in _logs(daemon, "pub")


def test_subscribe_cli_prints_messages(daemon: Daemon, home: Path) -> None:
    import subprocess

    from .conftest import OCRE

    proc = subprocess.Popen(
        [*OCRE, "subscribe", "news/", "-n", "2", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The first stderr line comes once the daemon holds the subscription: publishing now
        # reaches it (what `ocre subscribe sensor/ &` then `ocre publish` in README relies on).
        assert proc.stderr is not None
        assert proc.stderr.readline() == "subscribed to topics starting with 'news/'\n"
        assert daemon.runtime.broker._host
        client = DaemonClient.connect()
        assert client.publish("news/a", b"one")["delivered"]
        assert client.publish("news/b", b"\xff\x00", "application/octet-stream")["delivered"]
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert err == ""
    lines = out.splitlines()
    assert '"payload": "one"' in lines[0] and '"topic": "news/a"' in lines[0]
    assert '"encoding": "base64"' in lines[1] and '"payload": "/wA="' in lines[1]
