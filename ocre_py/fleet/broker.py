"""Reaching the fleet's MQTT broker: ``mqtt://`` and ``mqtts://`` URLs, TLS, credentials, the Will.

Every fleet program — a member agent, ``ocre fleet`` commands, the fleet view, the simulated
members — makes its paho-mqtt client here, so they all read broker URLs, certificates and
passwords the same way, and the tools that connect in the foreground (``ocre fleet``, the bus
tools, the view) connect and publish through :func:`connect` and :func:`publish_acked`, one error
line for each way it fails. paho does the protocol, keep-alives and reconnection; this module only
configures it. Passwords never sit on a command line: ``$OCRE_FLEET_PASSWORD`` or the URL's
userinfo (for tests) supply them.

The fleet's name is resolved here too (:func:`fleet_name`), the same for every command: the option,
else ``$OCRE_FLEET_NAME``, else :data:`DEFAULT_FLEET`.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocre_py.errors import FleetError, InvalidInput
from ocre_py.fleet.protocol import check_fleet_name

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
#: Seconds between keep-alive pings; the broker publishes a member's Will after 1.5× this without
#: a word from it (at once when the connection drops).
KEEPALIVE = 10
RECONNECT_MIN, RECONNECT_MAX = 1, 30  # paho's reconnect backoff, seconds
CONNECT_TIMEOUT = 10.0  # seconds for the TCP connection and the broker's CONNACK, or a PUBACK

#: The fleet every command uses without ``--fleet NAME`` (``--fleet-name`` for the daemon, whose
#: ``--fleet`` is the broker URL) or :data:`FLEET_NAME_ENV`.
DEFAULT_FLEET = "default"
FLEET_NAME_ENV = "OCRE_FLEET_NAME"


def fleet_name(name: str | None, what: str = "--fleet") -> str:
    """The fleet a command works in: ``name``, else ``$OCRE_FLEET_NAME``, else ``default``; checked
    (one line naming ``what``)."""
    return check_fleet_name(name or os.environ.get(FLEET_NAME_ENV) or DEFAULT_FLEET, what)


class BrokerUnreachable(FleetError):
    """The broker could not be reached, refused the connection, or did not acknowledge."""


@dataclass(frozen=True)
class BrokerOptions:
    """A broker and how to talk to it. ``ca``/``cert``/``key`` are PEM files (mutual TLS with
    per-device certificates, which a broker's ACLs can key on)."""

    url: str
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    username: str | None = None
    password: str | None = None

    @property
    def parts(self) -> tuple[bool, str, int]:
        """``(tls, host, port)``, checked: one line naming the URL and what was expected."""
        parsed = urllib.parse.urlsplit(self.url)
        expected = "mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
        if parsed.scheme not in DEFAULT_PORTS or not parsed.hostname:
            raise InvalidInput.field(None, "broker", self.url, expected)
        if parsed.path not in ("", "/") or parsed.query:
            raise InvalidInput.field(None, "broker", self.url, expected + " (no path)")
        try:
            port = parsed.port or DEFAULT_PORTS[parsed.scheme]
        except ValueError:
            raise InvalidInput.field(None, "broker", self.url, expected + " with a port of 1-65535") from None
        return parsed.scheme == "mqtts", parsed.hostname, port

    @property
    def credentials(self) -> tuple[str | None, str | None]:
        parsed = urllib.parse.urlsplit(self.url)
        user = self.username or (urllib.parse.unquote(parsed.username) if parsed.username else None)
        password = (
            self.password
            or os.environ.get("OCRE_FLEET_PASSWORD")
            or (urllib.parse.unquote(parsed.password) if parsed.password else None)
        )
        return user, password

    def display(self) -> str:
        """The URL without a password, for messages."""
        tls, host, port = self.parts
        return f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"


def broker_from_env(url: str | None) -> BrokerOptions:
    """``--broker`` or ``$OCRE_FLEET`` (and ``$OCRE_FLEET_CA/CERT/KEY/USERNAME``)."""
    url = url or os.environ.get("OCRE_FLEET")
    if not url:
        raise InvalidInput("no broker: give --broker mqtt://HOST[:PORT] or set $OCRE_FLEET")
    env = os.environ.get
    return BrokerOptions(
        url,
        ca=env("OCRE_FLEET_CA"),
        cert=env("OCRE_FLEET_CERT"),
        key=env("OCRE_FLEET_KEY"),
        username=env("OCRE_FLEET_USERNAME"),
    )


def make_client(
    options: BrokerOptions,
    client_id: str,
    *,
    will: tuple[str, bytes] | None = None,
    clean_session: bool = True,
) -> mqtt.Client:
    """A configured (not yet connected) MQTT 3.1.1 client: TLS when ``mqtts://``, credentials, a
    retained QoS 1 Will, paho's reconnect backoff. MQTT 3.1.1 because that is what small MQTT
    clients (Zephyr's among them) speak."""
    import paho.mqtt.client as mqtt

    tls, _, _ = options.parts
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
    )
    if tls:
        for what, path in (("--ca", options.ca), ("--cert", options.cert), ("--key", options.key)):
            if path and not os.path.isfile(path):
                raise InvalidInput.field(None, what, path, "an existing PEM file")
        if bool(options.cert) != bool(options.key):
            raise InvalidInput("a client certificate needs both --cert and --key")
        client.tls_set(ca_certs=options.ca, certfile=options.cert, keyfile=options.key)
    elif options.ca or options.cert:
        raise InvalidInput.field(None, "broker", options.url, "mqtts://… when certificates are given")
    user, password = options.credentials
    if user:
        client.username_pw_set(user, password)
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.reconnect_delay_set(RECONNECT_MIN, RECONNECT_MAX)
    return client


def client_id(kind: str) -> str:
    """A client ID unique per process: a broker disconnects the older of two clients with one ID."""
    return f"ocre-{kind}-{socket.gethostname()[:32]}-{os.getpid()}-{os.urandom(3).hex()}"


def connect(
    options: BrokerOptions,
    client: mqtt.Client,
    *,
    timeout: float = CONNECT_TIMEOUT,
    on_connect: Callable[[mqtt.Client], object] | None = None,
) -> None:
    """Connect ``client`` in the foreground and start its network thread; raises
    :class:`BrokerUnreachable` (one line) when the broker cannot be reached, fails TLS, or does not
    accept us within ``timeout``. Afterwards paho reconnects by itself; ``on_connect(client)`` runs
    on every (re)connection, on paho's thread (subscribe there: a clean session forgets)."""
    _, host, port = options.parts
    where = options.display()
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def connected(c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object = None) -> None:
        outcome.setdefault("reason", reason)
        if not reason.is_failure and on_connect is not None:
            on_connect(c)
        done.set()

    client.on_connect = connected
    client.connect_timeout = timeout
    try:
        client.connect(host, port, keepalive=KEEPALIVE)
    except ssl.SSLError as exc:
        raise BrokerUnreachable(f"TLS with the fleet broker {where} failed: {exc.reason or exc}") from None
    except (OSError, ValueError) as exc:
        why = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
        raise BrokerUnreachable(
            f"cannot reach the fleet broker {where}: {why}",
            hint="is it running? give --broker mqtt://HOST[:PORT] or set $OCRE_FLEET",
        ) from None
    client.loop_start()
    answered = done.wait(timeout)
    if answered and not outcome["reason"].is_failure:
        return
    client.loop_stop()
    client.disconnect()
    if not answered:
        raise BrokerUnreachable(f"the fleet broker {where} did not answer within {timeout:g} s")
    raise BrokerUnreachable(f"the fleet broker {where} refused the connection: {outcome['reason']}")


def publish_acked(
    options: BrokerOptions,
    client: mqtt.Client,
    topic: str,
    payload: bytes,
    *,
    retain: bool = False,
    timeout: float = CONNECT_TIMEOUT,
) -> None:
    """Publish at QoS 1 on a connected client and wait for the broker's PUBACK (one line when it
    does not come within ``timeout``)."""
    info = client.publish(topic, payload, qos=1, retain=retain)
    try:
        info.wait_for_publish(timeout)
    except (ValueError, RuntimeError) as exc:
        raise BrokerUnreachable(f"publishing to the fleet broker {options.display()} failed: {exc}") from None
    if not info.is_published():
        raise BrokerUnreachable(
            f"the fleet broker {options.display()} did not acknowledge {topic} within {timeout:g} s"
        )
