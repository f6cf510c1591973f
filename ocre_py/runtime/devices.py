"""Simulated GPIO pins and sensors for the Linux runtime (spec 2.6).

Containers written for boards call the GPIO and sensor natives; on Linux those calls reach these
simulated devices instead of trapping, and the host (tests, ``ocre device``) drives inputs and reads
outputs. Devices belong to a runtime and are shared by its containers, as real hardware is.

GPIO: the SDK's addressing, 8 ports × 16 pins. Aliases: ``led0``..``led2`` = port 0 pins 0..2
(outputs on boards), ``sw0``/``sw1`` = port 1 pins 0/1 (inputs with pull-up, so they idle high).
A level change on a pin emits a GPIO event to every container that registered a callback on it.

Sensors: a fixed set with Zephyr ``sensor_channel`` numbers; readings come from a seeded PRNG, so a
given seed yields the same sequence every run; the host can pin a channel to a fixed value.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ocre_py.runtime.errno import EINVAL, ENODEV

PORTS, PINS_PER_PORT = 8, 16
GPIO_ALIASES: dict[str, tuple[int, int]] = {
    "led0": (0, 0), "led1": (0, 1), "led2": (0, 2), "sw0": (1, 0), "sw1": (1, 1),
}  # fmt: skip
INPUT, OUTPUT = 0, 1

GpioListener = Callable[[int, int, int], None]  # (port, pin, level)


@dataclass
class _Pin:
    direction: int | None = None  # None until configured
    level: int = 0
    listeners: dict[object, GpioListener] = field(default_factory=dict)


class GpioBank:
    def __init__(self) -> None:
        self._pins = {(p, n): _Pin() for p in range(PORTS) for n in range(PINS_PER_PORT)}
        self._lock = threading.Lock()

    @staticmethod
    def resolve(alias: str) -> tuple[int, int] | None:
        return GPIO_ALIASES.get(alias)

    def _pin(self, port: int, pin: int) -> _Pin | None:
        return self._pins.get((port, pin))

    def configure(self, port: int, pin: int, direction: int) -> int:
        p = self._pin(port, pin)
        if p is None or direction not in (INPUT, OUTPUT):
            return -EINVAL
        with self._lock:
            p.direction = direction
            p.level = 1 if direction == INPUT else 0  # inputs have a pull-up
        return 0

    def set(self, port: int, pin: int, level: int) -> int:
        p = self._pin(port, pin)
        if p is None or p.direction != OUTPUT:
            return -EINVAL
        self._change(port, pin, 1 if level else 0)
        return 0

    def get(self, port: int, pin: int) -> int:
        p = self._pin(port, pin)
        return -EINVAL if p is None else p.level

    def toggle(self, port: int, pin: int) -> int:
        p = self._pin(port, pin)
        if p is None or p.direction != OUTPUT:
            return -EINVAL
        self._change(port, pin, 1 - p.level)
        return 0

    def listen(self, port: int, pin: int, owner: object, listener: GpioListener) -> int:
        p = self._pin(port, pin)
        if p is None:
            return -EINVAL
        with self._lock:
            p.listeners[owner] = listener
        return 0

    def unlisten(self, port: int, pin: int, owner: object) -> int:
        p = self._pin(port, pin)
        if p is None:
            return -EINVAL
        with self._lock:
            p.listeners.pop(owner, None)
        return 0

    def unlisten_all(self, owner: object) -> None:
        with self._lock:
            for p in self._pins.values():
                p.listeners.pop(owner, None)

    # Host side ---------------------------------------------------------------------------------
    def drive_input(self, port: int, pin: int, level: int) -> None:
        """Set a simulated input's level (a button press); emits events on a change."""
        p = self._pin(port, pin)
        if p is None:
            raise ValueError(f"no GPIO pin {port}.{pin}: ports 0..{PORTS - 1}, pins 0..{PINS_PER_PORT - 1}")
        self._change(port, pin, 1 if level else 0)

    def snapshot(self) -> list[dict[str, object]]:
        """Every configured pin: port, pin, alias, direction, level."""
        names = {v: k for k, v in GPIO_ALIASES.items()}
        with self._lock:
            return [
                {"port": port, "pin": pin, "alias": names.get((port, pin)),
                 "direction": "output" if p.direction == OUTPUT else "input", "level": p.level}
                for (port, pin), p in sorted(self._pins.items()) if p.direction is not None
            ]  # fmt: skip

    def _change(self, port: int, pin: int, level: int) -> None:
        with self._lock:
            p = self._pins[(port, pin)]
            changed = p.level != level
            p.level = level
            listeners = list(p.listeners.values()) if changed else []
        for listener in listeners:
            listener(port, pin, level)


# Zephyr's enum sensor_channel values (include/zephyr/drivers/sensor.h).
CHAN_ACCEL_X, CHAN_ACCEL_Y, CHAN_ACCEL_Z = 0, 1, 2
CHAN_GYRO_X, CHAN_GYRO_Y, CHAN_GYRO_Z = 4, 5, 6
CHAN_MAGN_X, CHAN_MAGN_Y, CHAN_MAGN_Z = 8, 9, 10
CHAN_AMBIENT_TEMP, CHAN_PRESS, CHAN_HUMIDITY, CHAN_LIGHT = 13, 14, 16, 17
#: The RNG sensor's channel is sensor-specific (≥ SENSOR_CHAN_PRIV_START in every Zephyr version).
CHAN_RNG = 0x1000


@dataclass
class _Sensor:
    name: str
    aliases: tuple[str, ...]
    channels: dict[int, tuple[float, float]]  # channel type → (centre, spread)
    pinned: dict[int, float] = field(default_factory=dict)


def _default_sensors() -> list[_Sensor]:
    return [
        _Sensor("rng", ("RNG Sensor",), {CHAN_RNG: (500.0, 500.0)}),
        _Sensor("imu", (), {CHAN_ACCEL_X: (0.0, 0.05), CHAN_ACCEL_Y: (0.0, 0.05), CHAN_ACCEL_Z: (9.81, 0.05),
                            CHAN_GYRO_X: (0.0, 0.01), CHAN_GYRO_Y: (0.0, 0.01), CHAN_GYRO_Z: (0.0, 0.01)}),
        _Sensor("pressure", (), {CHAN_PRESS: (101.3, 0.2)}),
        _Sensor("humidity", (), {CHAN_HUMIDITY: (45.0, 2.0), CHAN_AMBIENT_TEMP: (21.5, 0.5)}),
        _Sensor("magnetometer", (), {CHAN_MAGN_X: (0.2, 0.01), CHAN_MAGN_Y: (0.0, 0.01),
                                     CHAN_MAGN_Z: (0.4, 0.01)}),
        _Sensor("light", (), {CHAN_LIGHT: (300.0, 20.0)}),
    ]  # fmt: skip


class SensorSet:
    """Handles are indices into the list; reads are seeded and reproducible."""

    def __init__(self, seed: int = 0) -> None:
        self._sensors = _default_sensors()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sensors)

    def handle(self, index: int) -> int:
        return index if 0 <= index < len(self._sensors) else -ENODEV

    def by_name(self, name: str) -> int:
        for i, s in enumerate(self._sensors):
            if name == s.name or name in s.aliases:
                return i
        return -ENODEV

    def channel_count(self, handle: int) -> int:
        return len(self._sensors[handle].channels) if 0 <= handle < len(self._sensors) else -EINVAL

    def channel_type(self, handle: int, index: int) -> int:
        if not 0 <= handle < len(self._sensors):
            return -EINVAL
        types = list(self._sensors[handle].channels)
        return types[index] if 0 <= index < len(types) else -EINVAL

    def read(self, handle: int, channel_type: int) -> float:
        if not 0 <= handle < len(self._sensors):
            return float(-EINVAL)
        sensor = self._sensors[handle]
        if channel_type not in sensor.channels:
            return float(-EINVAL)
        with self._lock:
            if channel_type in sensor.pinned:
                return sensor.pinned[channel_type]
            centre, spread = sensor.channels[channel_type]
            if channel_type == CHAN_RNG:
                return float(self._rng.randrange(0, 1000))
            return round(centre + self._rng.uniform(-spread, spread), 4)

    # Host side ---------------------------------------------------------------------------------
    def pin_value(self, name: str, channel_type: int, value: float | None) -> None:
        """Fix a channel to ``value`` (``None`` returns it to simulated readings)."""
        handle = self.by_name(name)
        if handle < 0 or channel_type not in self._sensors[handle].channels:
            raise ValueError(f"no sensor channel {name}:{channel_type}")
        with self._lock:
            if value is None:
                self._sensors[handle].pinned.pop(channel_type, None)
            else:
                self._sensors[handle].pinned[channel_type] = float(value)

    def describe(self) -> list[dict[str, object]]:
        return [
            {"handle": i, "name": s.name, "channels": list(s.channels), "pinned": dict(s.pinned)}
            for i, s in enumerate(self._sensors)
        ]


class SimulatedDevices:
    """The devices one runtime offers its containers."""

    def __init__(self, seed: int = 0) -> None:
        self.gpio = GpioBank()
        self.sensors = SensorSet(seed)
