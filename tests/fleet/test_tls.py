"""Members over ``mqtts://`` with per-device client certificates (docs/fleet.md, Security).

A real mosquitto with a TLS listener that requires a client certificate from the fleet's CA and
takes the certificate's common name as the user name (``use_identity_as_username``, what per-device
ACLs key on). A daemon joins with ``--fleet-ca/--fleet-cert/--fleet-key``; a client without a
certificate, or with one from another CA, is refused in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocre_py.errors import FleetError
from ocre_py.fleet.broker import BrokerOptions
from ocre_py.fleet.observe import FleetWatch
from tests.fleet.broker import Mosquitto
from tests.fleet.members import MemberProcess, start_members, wait_fleet
from tests.pki import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("fleet-pki"))


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Mosquitto:
    extra = (
        f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        "require_certificate true\nuse_identity_as_username true\n"
    )
    return Mosquitto(tmp_path / "broker", extra=extra)


def test_a_member_joins_over_mutual_tls(tmp_path: Path, pki: Pki, tls_broker: Mosquitto) -> None:
    with tls_broker as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        tls = [
            "--fleet-ca",
            str(pki.ca),
            "--fleet-cert",
            str(pki.client_cert),
            "--fleet-key",
            str(pki.client_key),
        ]
        (member,) = start_members([MemberProcess(tmp_path, "d1", url, {"role": "sensor"}, extra=tls)])
        try:
            options = BrokerOptions(url, ca=str(pki.ca), cert=str(pki.client_cert), key=str(pki.client_key))
            with FleetWatch(options, "default") as watch:
                wait_fleet(
                    watch,
                    lambda w: (
                        (v := w.devices.get("d1")) is not None and v.online and v.labels == {"role": "sensor"}
                    ),
                    "d1 online over mqtts://",
                )
        finally:
            member.stop()


@pytest.mark.parametrize("who", ["no certificate", "a stranger's certificate"])
def test_a_client_without_the_fleets_certificate_is_refused_in_one_line(
    pki: Pki, tls_broker: Mosquitto, who: str
) -> None:
    with tls_broker as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        cert = (
            {} if who == "no certificate" else {"cert": str(pki.stranger_cert), "key": str(pki.stranger_key)}
        )
        with (
            pytest.raises(FleetError) as err,
            FleetWatch(BrokerOptions(url, ca=str(pki.ca), **cert), "default"),
        ):
            pass
        assert "\n" not in err.value.message and "127.0.0.1" in err.value.message


def test_plain_mqtt_to_a_tls_listener_is_not_a_hang(pki: Pki, tls_broker: Mosquitto) -> None:
    with tls_broker as broker:
        with pytest.raises(FleetError) as err, FleetWatch(BrokerOptions(broker.url), "default"):
            pass
        assert "\n" not in err.value.message
        assert os.linesep not in str(err.value)
