"""The fleet's command-line options: one default fleet name for every command, and the daemon's
``--fleet`` options carried into the systemd unit ``ocre daemon install-unit`` writes."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from ocre_py.cli.daemon import fleet_config
from ocre_py.cli.fleet_options import FLEET_NAME_DEFAULT, broker_target
from ocre_py.cli.main import build_parser
from ocre_py.cli.messaging import bus_target
from ocre_py.fleet.broker import DEFAULT_FLEET, FLEET_NAME_ENV, BrokerOptions
from ocre_py.fleet.member import MemberConfig
from tests.conftest import CliResult

URL = "mqtt://broker.example:1883"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def fleet_of_every_command(*name: str) -> dict[str, str]:
    """The fleet each command would use, given ``name`` (``[]``, or the option's value)."""
    daemon = ["--fleet-name", *name] if name else []
    fleet = ["--fleet", *name] if name else []
    config = fleet_config(parse("daemon", "--fleet", URL, "--device-id", "d1", *daemon))
    bus = bus_target(parse("publish", "t", "x", "--broker", URL, *fleet))
    subscribe = bus_target(parse("subscribe", "t", "--broker", URL, *fleet))
    assert bus is not None and subscribe is not None
    return {
        "ocre daemon": config.fleet,
        "ocre fleet ps": broker_target(parse("fleet", "ps", "--broker", URL, *fleet))[1],
        "ocre fleet apply": broker_target(parse("fleet", "apply", "f.yaml", "--broker", URL, *fleet))[1],
        "ocre fleet ui": broker_target(parse("fleet", "ui", "--broker", URL, *fleet))[1],
        "ocre publish": bus[1],
        "ocre subscribe": subscribe[1],
    }


def test_every_command_defaults_to_the_same_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FLEET_NAME_ENV, raising=False)
    assert set(fleet_of_every_command().values()) == {DEFAULT_FLEET}
    monkeypatch.setenv(FLEET_NAME_ENV, "staging")
    assert set(fleet_of_every_command().values()) == {"staging"}
    assert set(fleet_of_every_command("prod").values()) == {"prod"}  # the option wins

    # and every help says so, in the same words
    assert f"${FLEET_NAME_ENV}" in FLEET_NAME_DEFAULT and f"'{DEFAULT_FLEET}'" in FLEET_NAME_DEFAULT
    for argv, option in (
        (["daemon"], "--fleet-name"),
        (["daemon", "install-unit"], "--fleet-name"),
        (["fleet", "ps"], "--fleet"),
        (["fleet", "ui"], "--fleet"),
        (["publish"], "--fleet"),
        (["subscribe"], "--fleet"),
    ):
        parser = build_parser()
        for word in argv:
            parser = next(
                a.choices[word]
                for a in parser._actions
                if isinstance(a, argparse._SubParsersAction) and word in a.choices
            )
        (action,) = (a for a in parser._actions if option in a.option_strings)
        assert action.default is None and action.help is not None, (argv, option)
        assert FLEET_NAME_DEFAULT in action.help, (argv, option)


def test_a_bad_fleet_name_is_one_line_from_each_command(
    ocre_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FLEET_NAME_ENV, "Bad/Name")
    for argv, what in (
        (["daemon", "--fleet", URL, "--device-id", "d1"], "--fleet-name"),
        (["fleet", "ps", "--broker", URL], "--fleet"),
        (["publish", "t", "x", "--broker", URL], "--fleet"),
    ):
        r = ocre_cli(*argv)
        assert r.code == 2, (argv, r.err)
        assert r.err.splitlines()[0].startswith(f"ocre: error: {what} 'Bad/Name': expected 1-63"), r.err
    r = ocre_cli("daemon", "--fleet-name", "prod")
    assert r.code == 2 and "--fleet-name needs --fleet" in r.err


def exec_start(unit: str) -> list[str]:
    """The argv systemd runs for the unit's ExecStart (``%%`` and ``$$`` are literal ``%``, ``$``)."""
    (line,) = (ln for ln in unit.splitlines() if ln.startswith("ExecStart="))
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(line.removeprefix("ExecStart="))]


def test_install_unit_carries_the_fleet_options(
    ocre_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCRE_FLEET_PASSWORD", "s3cret-pw")
    monkeypatch.setenv(FLEET_NAME_ENV, "prod")  # resolved now: the unit does not see this shell
    fleet = ["--fleet", URL, "--device-id", "d1", "--label", "role=sensor", "--label", "note=50% $HOME"]
    r = ocre_cli("daemon", "install-unit", "--stdout", *fleet, "--fleet-username", "d1")
    assert r.code == 0, r.err
    argv = exec_start(r.out)
    assert argv[1:] == [
        "daemon", "-H", "unix:///run/ocre/ocre.sock", "--shutdown-grace", "5",
        "--fleet", URL, "--device-id", "d1", "--label", "note=50% $HOME", "--label", "role=sensor",
        "--fleet-name", "prod", "--fleet-username", "d1",
    ]  # fmt: skip
    assert "ExecStart=" in r.out and "'note=50%% $$HOME'" in r.out  # systemd expands neither
    # what the unit runs is the member that was asked for
    monkeypatch.delenv(FLEET_NAME_ENV)
    again = fleet_config(parse(*argv[1:]))
    asked = fleet_config(parse("daemon", *fleet, "--fleet-name", "prod", "--fleet-username", "d1"))
    assert again == asked and again.fleet == "prod"
    # the password: never in the unit, read from an environment file it names
    assert "s3cret-pw" not in r.out
    assert "\nEnvironmentFile=-/etc/ocre/fleet.env\n" in r.out
    assert "OCRE_FLEET_PASSWORD=... in /etc/ocre/fleet.env" in r.err
    user = ocre_cli("daemon", "install-unit", "--stdout", "--user", *fleet)
    assert user.code == 0 and "\nEnvironmentFile=-%h/.config/ocre/fleet.env\n" in user.out
    plain = ocre_cli("daemon", "install-unit", "--stdout")
    assert "--fleet" not in plain.out and "EnvironmentFile" not in plain.out

    for bad, message in (
        (["--fleet", "mqtt://d1:pw@h", "--device-id", "d1"], "carries a password"),
        (["--device-id", "d1"], "--device-id needs --fleet"),
        (["--fleet", URL, "--device-id", "d1", "--label", "x"], "--label 'x': expected KEY=VALUE"),
        (["--fleet", "tcp://h", "--device-id", "d1"], "expected mqtt://HOST[:PORT]"),
    ):
        r = ocre_cli("daemon", "install-unit", "--stdout", *bad)
        assert r.code == 2, (bad, r.err)
        assert r.err.count("ocre: error:") == 1 and message in r.err, (bad, r.err)
        assert "pw" not in r.out


def test_unit_arguments_name_tls_files_absolutely(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # systemd starts the daemon in /: relative paths would not hold
    options = BrokerOptions("mqtts://h", ca="pki/ca.pem", cert="pki/d1.pem", key="/etc/d1.key")
    args = MemberConfig(options, "d1").to_args()
    assert args == [
        "--fleet", "mqtts://h", "--device-id", "d1",
        "--fleet-ca", f"{tmp_path}/pki/ca.pem", "--fleet-cert", f"{tmp_path}/pki/d1.pem",
        "--fleet-key", "/etc/d1.key",
    ]  # fmt: skip
