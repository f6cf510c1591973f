"""The fleet view in a real headless Chromium, fed by a real mosquitto and member processes (a
stand-in that speaks the protocol with hostile text, and a real ``ocre daemon --fleet``); the
server's bounds over raw sockets; ``ocre fleet ui`` as a process."""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ocre_py.errors import InvalidInput
from ocre_py.fleet import bus
from ocre_py.fleet.broker import BrokerOptions, connect, make_client
from ocre_py.fleet.protocol import Deployment, deployment_topic, encode
from ocre_py.fleet.view import CLIENT_QUEUE, MAX_HEAD, FleetView, parse_listen
from tests.conftest import CliResult
from tests.fleet.broker import Mosquitto
from tests.fleet.members import BLINKY_ARGS, OCRE, MemberProcess, push_image, start_members
from tests.fleet.nodes import FLEET, wait_until
from tests.image.conftest import RegistryServer
from tests.ports import free_port

HERE = Path(__file__).resolve().parent
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HOSTILE_LABEL = "<img src=x onerror=window.pwned=1>"
HOSTILE_PAYLOAD = "<script>window.pwned=2</script><b>bold</b>"


@pytest.fixture
def view(broker: Mosquitto) -> Iterator[FleetView]:
    v = FleetView(BrokerOptions(broker.url), FLEET)
    v.start("127.0.0.1", 0)
    try:
        yield v
    finally:
        v.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("chromium and chromium-driver are not installed: run 'make setup'")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def text(driver: Any, css: str) -> str | None:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].get_attribute("textContent") if found else None


def wait_text(driver: Any, css: str, expected: str, timeout: float = 20) -> None:
    """Poll the DOM (bounded) until ``css`` shows ``expected``."""
    try:
        wait_until(lambda: text(driver, css) == expected, timeout, f"{css} to read {expected!r}")
    except AssertionError:
        raise AssertionError(f"{css} reads {text(driver, css)!r}, not {expected!r}") from None


def state_message(device: str) -> dict[str, Any]:
    return {
        "protocol": "ocre-fleet/1",
        "device": device,
        "labels": {"room": "lab", "note": HOSTILE_LABEL},
        "ts": time.time(),
        "version": "0.9.0",
        "health": {"status": "ok", "uptime_s": 12.5, "restarting": 0},
        "resources": {"rss_bytes": 50 << 20, "cpus": 2, "disk_free_bytes": 10 << 30, "containers": 1},
        "deployments": {
            "hello": {"generation": "0123456789abcdef", "state": "running", "container": "hello-1"}
        },
        "containers": [
            {"id": "hello-1", "image": "hello:1", "status": "RUNNING", "digest": None, "deployment": "hello"}
        ],
    }


def start_member(url: str, device: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "sim_member.py"), url, FLEET, device, json.dumps(state_message(device))],
        stdout=subprocess.PIPE,
        text=True,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    assert ready and proc.stdout is not None and proc.stdout.readline() == "ready\n", (
        "the member did not start"
    )
    return proc


def publish_retained(url: str, topic: str, payload: bytes) -> None:
    client = make_client(BrokerOptions(url), "test-control")
    connect(BrokerOptions(url), client)
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_page_shows_the_fleet_live(browser: Any, view: FleetView, broker: Mosquitto) -> None:
    member = start_member(broker.url, "d1")
    try:
        browser.get(view.url)
        wait_text(browser, 'tr[data-device="d1"] td.status', "online")
        labels = text(browser, 'tr[data-device="d1"] td.labels')
        assert labels == f"note={HOSTILE_LABEL}, room=lab"
        wait_text(browser, 'tr[data-container="d1/hello"] td.state', "running")
        assert text(browser, 'tr[data-container="d1/hello"] td:nth-child(4)') == "hello:1"

        deployment = Deployment(name="hello", image="hello:1", selector={"room": "lab"}, bridge=("sensor/",))
        deployment = deployment.with_generation()
        publish_retained(broker.url, deployment_topic(FLEET, "hello"), encode(deployment.to_message()))
        wait_text(browser, 'tr[data-deployment="hello"] td.image', "hello:1")
        assert text(browser, 'tr[data-deployment="hello"] td.generation') == deployment.generation
        assert text(browser, 'tr[data-deployment="hello"] td.selector') == "room=lab"
        assert text(browser, 'tr[data-deployment="hello"] td.progress') == "running 1"

        bus.publish(BrokerOptions(broker.url), FLEET, "alerts/x", HOSTILE_PAYLOAD.encode(), "text/html")
        wait_text(browser, "#bus tbody tr td.payload", HOSTILE_PAYLOAD)
        assert text(browser, "#bus tbody tr td.topic") == "alerts/x"
        assert text(browser, "#bus tbody tr td.from") == bus.host_origin()
        # Broker text stays text: no element was made of it and no script of it ran.
        assert browser.execute_script("return typeof window.pwned") == "undefined"
        assert (
            browser.execute_script("return document.querySelectorAll('main img, main b, main script').length")
            == 0
        )

        member.send_signal(signal.SIGKILL)  # no goodbye: the broker publishes the Will
        member.wait(10)
        wait_text(browser, 'tr[data-device="d1"] td.status', "offline", timeout=15)

        publish_retained(broker.url, deployment_topic(FLEET, "hello"), b"")  # deleted
        wait_text(browser, "#deployments tbody tr.empty td", "no deployments")
    finally:
        member.kill()
        member.wait(10)


def test_page_shows_a_real_daemon_go_offline_when_killed(
    browser: Any,
    view: FleetView,
    broker: Mosquitto,
    fleet_registry: RegistryServer,
    modules: dict[str, Path],
    ocre_cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: "the page shows a device going offline within seconds of its daemon being killed",
    with a real ``ocre daemon --fleet`` running a deployment applied by ``ocre fleet apply``. The
    fleet comes from $OCRE_FLEET_NAME, for the daemon and the CLI alike."""
    monkeypatch.setenv("OCRE_FLEET_NAME", FLEET)
    ref = f"{fleet_registry.host}/view-blinky:1"
    push_image(tmp_path / "store", ref, modules["blinky"], args=BLINKY_ARGS)
    (member,) = start_members([MemberProcess(tmp_path / "members", "d1", broker.url, {"room": "lab"})])
    try:
        browser.get(view.url)
        wait_text(browser, 'tr[data-device="d1"] td.status', "online", timeout=60)
        assert text(browser, 'tr[data-device="d1"] td.labels') == "room=lab"
        path = tmp_path / "blinky.yaml"
        path.write_text(f"name: blinky\nimage: {ref}\ncapabilities: ['ocre:api']\n")
        r = ocre_cli("fleet", "apply", path, "--broker", broker.url, "--wait", "--timeout", "60")
        assert r.code == 0, r.err + member.output()[-2000:]
        wait_text(browser, 'tr[data-container="d1/blinky"] td.state', "running", timeout=60)
        assert text(browser, 'tr[data-container="d1/blinky"] td:nth-child(4)') == ref
        assert text(browser, 'tr[data-deployment="blinky"] td.progress') == "running 1"

        member.kill9()  # no goodbye: the broker sees the connection drop and publishes the Will
        wait_text(browser, 'tr[data-device="d1"] td.status', "offline", timeout=60)
    finally:
        member.stop()


# ---- the server's bounds, over raw sockets ------------------------------------------------------
def request(view: FleetView, raw: bytes, *, read: int = 65536) -> bytes:
    host, port = view.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(raw)
        out = b""
        while len(out) < read:
            chunk = s.recv(read)
            if not chunk:
                break
            out += chunk
        return out


def open_stream(view: FleetView) -> tuple[socket.socket, bytes]:
    host, port = view.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    return s, head


def test_server_refuses_what_it_should(view: FleetView) -> None:
    ok = request(view, b"GET /state HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert ok.startswith(b"HTTP/1.0 200") and b'"kind":"snapshot"' in ok
    page = request(view, b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
    assert page.startswith(b"HTTP/1.0 200") and b"Content-Security-Policy: default-src 'none'" in page
    big = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * MAX_HEAD + b"\r\n\r\n"
    assert request(view, big).startswith(b"HTTP/1.0 431")
    assert request(view, b"GET /" + b"a" * (MAX_HEAD + 10) + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 431")
    post = b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello"
    assert request(view, post).startswith(b"HTTP/1.0 405")
    body = b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello"
    assert request(view, body).startswith(b"HTTP/1.0 413")
    rebound = b"GET /state HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n"
    assert request(view, rebound).startswith(b"HTTP/1.0 403")
    assert request(view, b"GET /nope HTTP/1.1\r\nHost: [::1]\r\n\r\n").startswith(b"HTTP/1.0 404")
    assert request(view, b"garbage\r\n\r\n").startswith(b"HTTP/1.0 400")


def test_stream_count_is_capped(broker: Mosquitto) -> None:
    view = FleetView(BrokerOptions(broker.url), FLEET, max_clients=2)
    view.start("127.0.0.1", 0)
    streams: list[socket.socket] = []
    try:
        for _ in range(2):
            s, head = open_stream(view)
            assert head.startswith(b"HTTP/1.0 200") and b"text/event-stream" in head
            streams.append(s)
        refused = request(view, b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert refused.startswith(b"HTTP/1.0 503") and b"Retry-After: 10" in refused
        streams.pop().close()  # a page goes away: its place frees up
        wait_until(lambda: len(view.pages) < 2, 20, "the closed page noticed")
        s, head = open_stream(view)
        streams.append(s)
        assert head.startswith(b"HTTP/1.0 200")
    finally:
        for s in streams:
            s.close()
        view.close()


def test_idle_connections_are_capped_and_timed_out(view: FleetView, monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections that send nothing (or a byte now and then) hold a thread each: at most
    MAX_CONNECTIONS of them, each for at most REQUEST_TIMEOUT seconds in all."""
    from ocre_py.fleet import view as view_module

    monkeypatch.setattr(view_module, "REQUEST_TIMEOUT", 2.0)
    host, port = view.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    idle = [
        socket.create_connection((host, int(port)), timeout=10) for _ in range(view_module.MAX_CONNECTIONS)
    ]
    try:
        wait_until(lambda: view.server is not None and view.server.slots._value == 0, 10, "all accepted")
        over = request(view, b"GET /state HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert over.startswith(b"HTTP/1.0 503")
        idle[0].sendall(b"GET /state HTTP/1.1\r\n")  # a slow client, still within its deadline
        time.sleep(1.0)
        idle[0].sendall(b"X: y\r\n")
        assert idle[0].recv(100) == b""  # the deadline is for the whole head: closed, no answer
        wait_until(
            lambda: request(view, b"GET /state HTTP/1.1\r\nHost: localhost\r\n\r\n").startswith(
                b"HTTP/1.0 200"
            ),
            10,
            "the idle connections timed out",
        )
    finally:
        for s in idle:
            s.close()


def test_a_page_that_falls_behind_gets_a_snapshot(view: FleetView) -> None:
    opened = view.open_stream()
    assert opened is not None
    page, first = opened
    assert b'"kind":"snapshot"' in first
    for i in range(CLIENT_QUEUE + 5):
        with view.lock:
            view.model.apply(f"ocre/v1/{FLEET}/bus/t", bus_envelope(f"m{i}"))
            view._send(b"data: x\n\n")
    assert page.lagging and page.events.qsize() == CLIENT_QUEUE  # bounded, not growing
    snapshot = view.catch_up(page)
    assert not page.lagging and page.events.empty()
    assert len(json.loads(snapshot.removeprefix(b"data: "))["bus"]) == 50  # the model's own bound
    view.close_stream(page)


def bus_envelope(payload: str) -> bytes:
    from ocre_py.fleet.protocol import Envelope

    return Envelope("x", "t", "text/plain", payload.encode()).encode()


def test_model_bounds_what_it_keeps() -> None:
    from ocre_py.fleet import view_model
    from ocre_py.fleet.protocol import Envelope
    from ocre_py.fleet.view_model import FleetModel

    model = FleetModel(FLEET)
    assert model.apply(f"ocre/v1/{FLEET}/devices/d1/state", b"{" + b" " * (64 * 1024) + b"}") is None
    assert model.apply(f"ocre/v1/{FLEET}/devices/d1/state", b"[1]") is None
    assert model.apply(f"ocre/v1/{FLEET}/control/x", b"{}") is None
    assert model.counts == {"messages": 3, "ignored": 1, "refused": 2, "bus": 0}
    state = {
        "containers": [{"id": str(i)} for i in range(1000)],
        "labels": {"bad key!": "x"},
        "version": "v" * 500,
    }
    event = model.apply(f"ocre/v1/{FLEET}/devices/d1/state", json.dumps(state).encode())
    assert event is not None
    shown = event["device"]["state"]
    assert len(shown["containers"]) == 256 and shown["labels"] == {} and len(shown["version"]) == 64
    big = model.apply(f"ocre/v1/{FLEET}/bus/t", bus_envelope("x" * 5000))
    assert big is not None and len(big["message"]["payload"]) == view_model.SHOWN_PAYLOAD
    assert big["message"]["truncated"]
    control = model.apply(f"ocre/v1/{FLEET}/bus/t", Envelope("x", "t", "text/plain", b"\x01\x02").encode())
    assert control is not None and control["message"]["encoding"] == "base64"  # not shown as text
    other = encode(Deployment(name="b", image="r.io/b:1").with_generation().to_message())
    shown = model.apply(f"ocre/v1/{FLEET}/deployments/a", other)
    assert shown is not None and shown["deployment"]["error"] == "deployment a: its message names 'b'"
    assert model.apply(f"ocre/v1/{FLEET}/devices/d1/state", b"") == {
        "kind": "device",
        "id": "d1",
        "device": None,
    }


# ---- ocre fleet ui --------------------------------------------------------------------------------
def ocre_fleet(*args: str) -> list[str]:
    return [*OCRE, "fleet", *args]


def test_fleet_ui_command(broker: Mosquitto) -> None:
    proc = subprocess.Popen(
        ocre_fleet("ui", "--broker", broker.url, "--fleet", FLEET, "--listen", "127.0.0.1:0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready and proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with urllib.request.urlopen(url + "state", timeout=10) as r:
            assert json.loads(r.read())["fleet"] == FLEET
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
        proc.wait(10)

    for args, code, message in (
        (["--broker", broker.url, "--listen", "nowhere"], 2, "--listen 'nowhere'"),
        (["--broker", "tcp://x"], 2, "mqtt://HOST"),
        (["--broker", broker.url, "--fleet", "A/B"], 2, "--fleet"),
        (
            ["--broker", f"mqtt://127.0.0.1:{free_port()}", "--listen", "127.0.0.1:0"],
            1,
            "cannot reach the fleet broker",
        ),
    ):
        r = subprocess.run(ocre_fleet("ui", *args), capture_output=True, text=True, timeout=60)
        assert r.returncode == code, (args, r.stderr)
        assert r.stderr.count("ocre: error:") == 1 and message in r.stderr, (args, r.stderr)


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:8080") == ("::1", 8080)
    for bad in (":9000", "8080", "host:99999", "a:b", "[::1]"):
        with pytest.raises(InvalidInput, match="--listen"):
            parse_listen(bad)
