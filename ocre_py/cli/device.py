"""``ocre device gpio|sensor``: read and drive the simulated devices of a running daemon.

On Linux, GPIO and sensor natives reach simulated devices (spec 2.6); these verbs are the other
side of the wire, so a container written for a board can be exercised on a PC: press ``sw0``,
watch ``led0``, pin a sensor channel to a value.
"""

from __future__ import annotations

import argparse
import sys

from ocre_py.cli import exit_codes
from ocre_py.cli.daemon_client import add_client_options, client_for

PIN_HELP = "an alias (led0..led2, sw0, sw1) or PORT.PIN (e.g. 1.0)"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    device = sub.add_parser("device", help="simulated GPIO pins and sensors of the daemon")
    kinds = device.add_subparsers(dest="device_kind", metavar="KIND", required=True)

    gpio = kinds.add_parser("gpio", help="simulated GPIO pins")
    gverbs = gpio.add_subparsers(dest="gpio_command", metavar="VERB", required=True)
    p = gverbs.add_parser("ls", help="configured pins: PORT, PIN, ALIAS, DIRECTION, LEVEL")
    p.add_argument("--json", action="store_true")
    add_client_options(p)
    p.set_defaults(func=cmd_gpio_ls)
    p = gverbs.add_parser("get", help="print a pin's level (0 or 1)")
    p.add_argument("pin", metavar="PIN", help=PIN_HELP)
    add_client_options(p)
    p.set_defaults(func=cmd_gpio_get)
    p = gverbs.add_parser("set", help="drive a pin's level from outside (a button press)")
    p.add_argument("pin", metavar="PIN", help=PIN_HELP)
    p.add_argument("level", metavar="LEVEL", choices=("0", "1"), help="0 or 1")
    add_client_options(p)
    p.set_defaults(func=cmd_gpio_set)

    sensor = kinds.add_parser("sensor", help="simulated sensors")
    sverbs = sensor.add_subparsers(dest="sensor_command", metavar="VERB", required=True)
    p = sverbs.add_parser("ls", help="sensors, their channel types and pinned values")
    p.add_argument("--json", action="store_true")
    add_client_options(p)
    p.set_defaults(func=cmd_sensor_ls)
    p = sverbs.add_parser("set", help="pin a sensor channel to a value")
    p.add_argument("name", metavar="SENSOR")
    p.add_argument("channel", type=int, metavar="CHANNEL", help="channel type number (see 'ls')")
    p.add_argument("value", type=float, metavar="VALUE")
    add_client_options(p)
    p.set_defaults(func=cmd_sensor_set)
    p = sverbs.add_parser("unset", help="return a channel to simulated readings")
    p.add_argument("name", metavar="SENSOR")
    p.add_argument("channel", type=int, metavar="CHANNEL")
    add_client_options(p)
    p.set_defaults(func=cmd_sensor_unset)


def parse_pin(text: str) -> dict[str, object]:
    """``led0`` → ``{"alias": "led0"}``; ``1.0`` → ``{"port": 1, "pin": 0}``."""
    from ocre_py.errors import InvalidInput
    from ocre_py.runtime.devices import GPIO_ALIASES

    if text in GPIO_ALIASES:
        return {"alias": text}
    port, sep, pin = text.partition(".")
    if sep and port.isdigit() and pin.isdigit():
        return {"port": int(port), "pin": int(pin)}
    raise InvalidInput.field(None, "GPIO pin", text, PIN_HELP)


def _find(pins: list[dict[str, object]], spec: dict[str, object]) -> dict[str, object] | None:
    from ocre_py.runtime.devices import GPIO_ALIASES

    port, pin = GPIO_ALIASES[str(spec["alias"])] if "alias" in spec else (spec["port"], spec["pin"])
    return next((p for p in pins if p["port"] == port and p["pin"] == pin), None)


def cmd_gpio_ls(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json, print_table

    pins = client_for(args).gpio()
    if args.json:
        print_json(pins)
    else:
        rows = [(p["port"], p["pin"], p["alias"] or "", p["direction"], p["level"]) for p in pins]
        print_table(["PORT", "PIN", "ALIAS", "DIRECTION", "LEVEL"], rows)
    return exit_codes.SUCCESS


def cmd_gpio_get(args: argparse.Namespace) -> int:
    spec = parse_pin(args.pin)
    found = _find(client_for(args).gpio(), spec)
    sys.stdout.write(f"{found['level'] if found else 0}\n")
    return exit_codes.SUCCESS


def cmd_gpio_set(args: argparse.Namespace) -> int:
    spec = parse_pin(args.pin)
    client_for(args).drive_gpio(int(args.level), **spec)
    return exit_codes.SUCCESS


def cmd_sensor_ls(args: argparse.Namespace) -> int:
    from ocre_py.cli.output import print_json, print_table

    sensors = client_for(args).sensors()
    if args.json:
        print_json(sensors)
    else:
        rows = [
            (
                s["handle"],
                s["name"],
                ",".join(map(str, s["channels"])),
                ",".join(f"{k}={v}" for k, v in s["pinned"].items()),
            )
            for s in sensors
        ]
        print_table(["HANDLE", "NAME", "CHANNELS", "PINNED"], rows)
    return exit_codes.SUCCESS


def cmd_sensor_set(args: argparse.Namespace) -> int:
    client_for(args).pin_sensor(args.name, args.channel, args.value)
    return exit_codes.SUCCESS


def cmd_sensor_unset(args: argparse.Namespace) -> int:
    client_for(args).pin_sensor(args.name, args.channel, None)
    return exit_codes.SUCCESS
