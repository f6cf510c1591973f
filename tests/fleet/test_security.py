"""The broker's identities and ACLs (docs/fleet.md, Security): a member that authenticates with a user
name and $OCRE_FLEET_PASSWORD, the ACL of the docs as written, and a device that tries to speak for
another one or to publish deployments: the broker drops it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.fleet import protocol
from ocre_py.fleet.broker import BrokerOptions, broker_from_env, make_client
from ocre_py.fleet.observe import FleetWatch
from tests.conftest import REPO, CliResult, require_program
from tests.fleet.broker import Mosquitto
from tests.fleet.members import MemberProcess, push_image, start_members, wait_fleet
from tests.image.conftest import RegistryServer

PASSWORDS = {"d1": "pw-d1", "d2": "pw-d2", "ocre-admin": "pw-admin"}


def docs_acl() -> str:
    """The ACL example of docs/fleet.md, as written there."""
    text = (REPO / "docs" / "fleet.md").read_text()
    start = text.index("# members: their own presence and state")
    return text[start : text.index("```", start)]


def test_password_members_and_the_documented_acl(
    tmp_path: Path,
    fleet_registry: RegistryServer,
    modules: dict[str, Path],
    ocre_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        subprocess.run([require_program("mosquitto_passwd"), "-b", passwd, user, password], check=True)
    acl = tmp_path / "ocre.acl"
    acl.write_text(docs_acl())
    extra = f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    with Mosquitto(tmp_path / "broker", extra=extra) as broker:
        (d1,) = start_members(
            [
                MemberProcess(
                    tmp_path,
                    "d1",
                    broker.url,
                    {"role": "sensor"},
                    extra=["--fleet-username", "d1"],
                    env={"OCRE_FLEET_PASSWORD": PASSWORDS["d1"]},
                )
            ]
        )
        try:
            monkeypatch.setenv("OCRE_FLEET", broker.url)
            monkeypatch.setenv("OCRE_FLEET_USERNAME", "ocre-admin")
            monkeypatch.setenv("OCRE_FLEET_PASSWORD", PASSWORDS["ocre-admin"])
            ref = f"{fleet_registry.host}/secure-hello:1"
            push_image(tmp_path / "store", ref, modules["hello"])
            path = tmp_path / "hello.yaml"
            path.write_text(f"name: hello\nimage: {ref}\n")
            r = ocre_cli("fleet", "apply", path, "--wait")
            assert r.code == 0, r.err + d1.output()[-2000:]

            # d2 (authenticated) speaks for d1 and publishes a deployment: the broker drops both
            rogue = make_client(BrokerOptions(broker.url, username="d2", password=PASSWORDS["d2"]), "rogue")
            _, host, port = BrokerOptions(broker.url).parts
            rogue.connect(host, port)
            rogue.loop_start()
            fake = json.dumps({"labels": {"role": "hacked"}, "deployments": {}}).encode()
            rogue.publish(protocol.state_topic("default", "d1"), fake, qos=1, retain=True).wait_for_publish(5)
            deploy = protocol.deployment_topic("default", "evil")
            rogue.publish(deploy, b'{"name": "evil"}', qos=1, retain=True).wait_for_publish(5)
            rogue.publish(protocol.state_topic("default", "d2"), fake, qos=1, retain=True).wait_for_publish(5)
            with FleetWatch(broker_from_env(None), "default") as watch:  # ocre-admin, from the environment
                wait_fleet(watch, lambda w: "d2" in w.devices, "d2's own state, which it may publish")
                assert set(watch.deployments) == {"hello"} and "evil" not in watch.invalid
                assert watch.devices["d1"].labels == {"role": "sensor"}
            rogue.loop_stop()
            rogue.disconnect()

            monkeypatch.setenv("OCRE_FLEET_PASSWORD", "wrong")
            refused = ocre_cli("fleet", "ps")
            assert refused.code == 1
            assert refused.err.startswith(
                f"ocre: error: the fleet broker {BrokerOptions(broker.url).display()}"
            )
            assert "refused the connection: Not authorized" in refused.err
        finally:
            d1.stop()
