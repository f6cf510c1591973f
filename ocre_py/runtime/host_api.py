"""The Ocre ``env`` host functions (spec section 2) as served by the Linux runtime.

Results are 0 (or a count/level/handle) on success and a negative Linux errno on failure. Only the
functions a module actually imports are defined for it; any other function import becomes a stub
that traps with ``unresolved import <module>.<name>`` when called (as WAMR does).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wasmtime

from ocre_py.runtime import events
from ocre_py.runtime.errno import EINVAL, ENOMSG, EPERM
from ocre_py.runtime.guestmem import GuestMemory, GuestTrap, offset
from ocre_py.runtime.spec import CAP_API

if TYPE_CHECKING:
    from ocre_py.runtime.session import Session

log = logging.getLogger(__name__)

_I32, _F64 = wasmtime.ValType.i32(), wasmtime.ValType.f64()
_TYPES = {"i": _I32, "*": _I32, "$": _I32, "F": _F64}

#: name → WAMR-style signature "(params)result" (spec 2.2).
SIGNATURES: dict[str, str] = {
    "uname": "(*)i",
    "ocre_sleep": "(i)i",
    "ocre_get_event": "(iiiiii)i",
    "ocre_register_dispatcher": "(i$)i",
    "ocre_timer_create": "(i)i",
    "ocre_timer_start": "(iii)i",
    "ocre_timer_stop": "(i)i",
    "ocre_timer_delete": "(i)i",
    "ocre_timer_get_remaining": "(i)i",
    "ocre_subscribe_message": "(*)i",
    "ocre_publish_message": "(***i)i",
    "ocre_messaging_free_module_event_data": "(iii)i",
    "ocre_gpio_init": "()i",
    "ocre_gpio_configure": "(iii)i",
    "ocre_gpio_pin_set": "(iii)i",
    "ocre_gpio_pin_get": "(ii)i",
    "ocre_gpio_pin_toggle": "(ii)i",
    "ocre_gpio_register_callback": "(ii)i",
    "ocre_gpio_unregister_callback": "(ii)i",
    "ocre_gpio_configure_by_name": "($i)i",
    "ocre_gpio_set_by_name": "($i)i",
    "ocre_gpio_get_by_name": "($)i",
    "ocre_gpio_toggle_by_name": "($)i",
    "ocre_gpio_register_callback_by_name": "($)i",
    "ocre_gpio_unregister_callback_by_name": "($)i",
    "ocre_sensors_init": "()i",
    "ocre_sensors_discover": "()i",
    "ocre_sensors_open": "(i)i",
    "ocre_sensors_get_handle": "(i)i",
    "ocre_sensors_get_channel_count": "(i)i",
    "ocre_sensors_get_channel_type": "(ii)i",
    "ocre_sensors_read": "(ii)F",
    "ocre_sensors_open_by_name": "($)i",
    "ocre_sensors_get_handle_by_name": "($)i",
    "ocre_sensors_get_channel_count_by_name": "($)i",
    "ocre_sensors_get_channel_type_by_name": "($i)i",
    "ocre_sensors_read_by_name": "($i)F",
    "ocre_sensors_get_list": "($i)i",
    "shared_heap_malloc": "(i)i",
    "shared_heap_free": "(*)",
}

UTSNAME_FIELD = 65  # the SDK's OCRE_API_POSIX_BUF_SIZE (spec D8)
DISPATCHER_EXPORTS = {events.TIMER: "timer_callback", events.GPIO: "gpio_callback",
                      events.SENSOR: "sensor_callback", events.MESSAGING: "message_callback"}  # fmt: skip


def func_type(signature: str) -> wasmtime.FuncType:
    params, _, result = signature[1:].partition(")")
    return wasmtime.FuncType([_TYPES[c] for c in params], [_TYPES[c] for c in result])


class OcreEnv:
    """The host functions of one container, defined once in its linker at create time.

    ``s`` is the current run's :class:`Session`, swapped in at each start, so a restart costs no
    linker work.
    """

    def __init__(self, session: Session | None = None) -> None:
        self.s: Session = session  # type: ignore[assignment]  # set before every run

    def define(self, linker: wasmtime.Linker, imports: tuple[tuple[str, str], ...]) -> None:
        """Define, with our signatures, the Ocre functions the module imports from ``env``. Nothing is
        checked here: a module whose import has another signature fails to instantiate (wasmtime's
        linker compares the types), and unknown imports are left to the linker's trap stubs."""
        for module, name in imports:
            if module != "env" or name not in SIGNATURES:
                continue
            ty = func_type(SIGNATURES[name])
            linker.define_func("env", name, ty, self._wrap(getattr(self, name)), access_caller=True)

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def host_call(caller: wasmtime.Caller, *args: Any) -> Any:
            self.s.checkpoint()  # kill and pause take effect at every host call
            return method(caller, *args)

        return host_call

    # ---- memory helpers ----------------------------------------------------------------------
    def _mem(self, caller: wasmtime.Caller) -> GuestMemory:
        mem = self.s.memory
        if mem is None:
            raise GuestTrap("host function called before the instance's memory was available")
        return mem

    def _name(self, caller: wasmtime.Caller, ptr: int) -> str:
        return self._mem(caller).cstr(caller, ptr).decode("utf-8", "replace")

    # ---- utility -----------------------------------------------------------------------------
    def uname(self, caller: wasmtime.Caller, buf: int) -> int:
        mem = self._mem(caller)
        ptr = mem.check(caller, buf)
        if not mem.fits(caller, ptr, 6 * UTSNAME_FIELD):
            return -EINVAL
        u = os.uname()
        fields = (f"Project Ocre ({u.sysname})", "", f"1.0.0 ({u.release})", u.version, u.machine, "")
        data = b"".join(f.encode()[: UTSNAME_FIELD - 1].ljust(UTSNAME_FIELD, b"\0") for f in fields)
        mem.write(caller, ptr, data)
        return 0

    def ocre_sleep(self, caller: wasmtime.Caller, ms: int) -> int:
        if ms < 0:
            return -EINVAL
        return self.s.sleep(ms / 1000.0)

    # ---- events ------------------------------------------------------------------------------
    def ocre_get_event(self, caller: wasmtime.Caller, *ptrs: int) -> int:
        mem = self._mem(caller)
        if not all(mem.fits(caller, p, 4) for p in ptrs):
            return -EINVAL  # validated before popping, so no event is lost
        while True:
            ev = self.s.queue.pop()
            if ev is None:
                return -ENOMSG
            if ev.message is None:
                values = (ev.type, ev.id, ev.port, ev.state, 0, 0)
            else:
                copies = self.s.copy_message_in(caller, ev.message)
                if copies is None:
                    continue  # logged by the session; try the next event
                msg = ev.message
                values = (events.MESSAGING, msg.message_id, *copies, len(msg.payload))
            mem.write_u32s(caller, list(zip(ptrs, values, strict=True)))
            return 0

    def ocre_register_dispatcher(self, caller: wasmtime.Caller, kind: int, name_ptr: int) -> int:
        name = self._name(caller, name_ptr)
        if CAP_API not in self.s.capabilities or kind not in DISPATCHER_EXPORTS:
            return -EINVAL
        if not isinstance(caller.get(name), wasmtime.Func):
            return -EINVAL
        self.s.dispatchers[kind] = name
        return 0

    # ---- timers ------------------------------------------------------------------------------
    def ocre_timer_create(self, caller: wasmtime.Caller, tid: int) -> int:
        return self.s.timers.create(tid)

    def ocre_timer_start(self, caller: wasmtime.Caller, tid: int, interval: int, periodic: int) -> int:
        return self.s.timers.start(tid, interval, periodic)

    def ocre_timer_stop(self, caller: wasmtime.Caller, tid: int) -> int:
        return self.s.timers.stop(tid)

    def ocre_timer_delete(self, caller: wasmtime.Caller, tid: int) -> int:
        return self.s.timers.delete(tid)

    def ocre_timer_get_remaining(self, caller: wasmtime.Caller, tid: int) -> int:
        return self.s.timers.remaining_ms(tid)

    # ---- messaging ---------------------------------------------------------------------------
    def ocre_subscribe_message(self, caller: wasmtime.Caller, topic_ptr: int) -> int:
        topic = self._mem(caller).cstr(caller, topic_ptr, "topic")
        if CAP_API not in self.s.capabilities:
            return -EPERM
        return self.s.broker.subscribe(self.s, topic)

    def ocre_publish_message(
        self, caller: wasmtime.Caller, topic: int, ctype: int, payload: int, n: int
    ) -> int:
        mem = self._mem(caller)
        topic_b = mem.cstr(caller, topic, "topic")
        ctype_b = mem.cstr(caller, ctype, "content type")
        ptr = mem.check(caller, payload, "payload")
        n = offset(n)
        if n == 0 or not topic_b or not ctype_b or not mem.fits(caller, ptr, n):
            return -EINVAL
        return self.s.broker.publish(topic_b, ctype_b, mem.read(caller, ptr, n))

    def ocre_messaging_free_module_event_data(self, caller: wasmtime.Caller, t: int, c: int, p: int) -> int:
        return self.s.free_message_copies(caller, (offset(t), offset(c), offset(p)))

    # ---- GPIO --------------------------------------------------------------------------------
    def ocre_gpio_init(self, caller: wasmtime.Caller) -> int:
        return 0

    def ocre_gpio_configure(self, caller: wasmtime.Caller, port: int, pin: int, direction: int) -> int:
        return self.s.devices.gpio.configure(port, pin, direction)

    def ocre_gpio_pin_set(self, caller: wasmtime.Caller, port: int, pin: int, level: int) -> int:
        return self.s.devices.gpio.set(port, pin, level)

    def ocre_gpio_pin_get(self, caller: wasmtime.Caller, port: int, pin: int) -> int:
        return self.s.devices.gpio.get(port, pin)

    def ocre_gpio_pin_toggle(self, caller: wasmtime.Caller, port: int, pin: int) -> int:
        return self.s.devices.gpio.toggle(port, pin)

    def ocre_gpio_register_callback(self, caller: wasmtime.Caller, port: int, pin: int) -> int:
        return self.s.devices.gpio.listen(port, pin, self.s, self.s.on_gpio)

    def ocre_gpio_unregister_callback(self, caller: wasmtime.Caller, port: int, pin: int) -> int:
        return self.s.devices.gpio.unlisten(port, pin, self.s)

    def _alias(self, caller: wasmtime.Caller, ptr: int) -> tuple[int, int] | None:
        return self.s.devices.gpio.resolve(self._name(caller, ptr))

    def ocre_gpio_configure_by_name(self, caller: wasmtime.Caller, name: int, direction: int) -> int:
        pp = self._alias(caller, name)
        return self.ocre_gpio_configure(caller, *pp, direction) if pp else -EINVAL

    def ocre_gpio_set_by_name(self, caller: wasmtime.Caller, name: int, level: int) -> int:
        pp = self._alias(caller, name)
        return self.ocre_gpio_pin_set(caller, *pp, level) if pp else -EINVAL

    def ocre_gpio_get_by_name(self, caller: wasmtime.Caller, name: int) -> int:
        pp = self._alias(caller, name)
        return self.ocre_gpio_pin_get(caller, *pp) if pp else -EINVAL

    def ocre_gpio_toggle_by_name(self, caller: wasmtime.Caller, name: int) -> int:
        pp = self._alias(caller, name)
        return self.ocre_gpio_pin_toggle(caller, *pp) if pp else -EINVAL

    def ocre_gpio_register_callback_by_name(self, caller: wasmtime.Caller, name: int) -> int:
        pp = self._alias(caller, name)
        return self.ocre_gpio_register_callback(caller, *pp) if pp else -EINVAL

    def ocre_gpio_unregister_callback_by_name(self, caller: wasmtime.Caller, name: int) -> int:
        pp = self._alias(caller, name)
        return self.ocre_gpio_unregister_callback(caller, *pp) if pp else -EINVAL

    # ---- sensors -----------------------------------------------------------------------------
    def ocre_sensors_init(self, caller: wasmtime.Caller) -> int:
        return 0

    def ocre_sensors_discover(self, caller: wasmtime.Caller) -> int:
        return len(self.s.devices.sensors)

    def ocre_sensors_open(self, caller: wasmtime.Caller, handle: int) -> int:
        return 0 if self.s.devices.sensors.handle(handle) >= 0 else -EINVAL

    def ocre_sensors_get_handle(self, caller: wasmtime.Caller, index: int) -> int:
        return self.s.devices.sensors.handle(index)

    def ocre_sensors_get_channel_count(self, caller: wasmtime.Caller, handle: int) -> int:
        return self.s.devices.sensors.channel_count(handle)

    def ocre_sensors_get_channel_type(self, caller: wasmtime.Caller, handle: int, index: int) -> int:
        return self.s.devices.sensors.channel_type(handle, index)

    def ocre_sensors_read(self, caller: wasmtime.Caller, handle: int, channel: int) -> float:
        return self.s.devices.sensors.read(handle, channel)

    def _sensor(self, caller: wasmtime.Caller, ptr: int) -> int:
        return self.s.devices.sensors.by_name(self._name(caller, ptr))

    def ocre_sensors_open_by_name(self, caller: wasmtime.Caller, name: int) -> int:
        return 0 if self._sensor(caller, name) >= 0 else -EINVAL

    def ocre_sensors_get_handle_by_name(self, caller: wasmtime.Caller, name: int) -> int:
        return self._sensor(caller, name)

    def ocre_sensors_get_channel_count_by_name(self, caller: wasmtime.Caller, name: int) -> int:
        return self.s.devices.sensors.channel_count(self._sensor(caller, name))

    def ocre_sensors_get_channel_type_by_name(self, caller: wasmtime.Caller, name: int, index: int) -> int:
        return self.s.devices.sensors.channel_type(self._sensor(caller, name), index)

    def ocre_sensors_read_by_name(self, caller: wasmtime.Caller, name: int, channel: int) -> float:
        return self.s.devices.sensors.read(self._sensor(caller, name), channel)

    def ocre_sensors_get_list(self, caller: wasmtime.Caller, _buf: int, _size: int) -> int:
        return len(self.s.devices.sensors)  # upstream's meaning is unverified; count is harmless

    # ---- shared heap (spec 2.8: an open item on standard engines) ----------------------------
    def shared_heap_malloc(self, caller: wasmtime.Caller, size: int) -> int:
        return 0

    def shared_heap_free(self, caller: wasmtime.Caller, ptr: int) -> None:
        return None


def define_unresolved(linker: wasmtime.Linker, store: wasmtime.Store, module: wasmtime.Module) -> list[str]:
    """Bind every function import the linker lacks to a stub that traps with its name when called."""
    missing = []
    for imp in module.imports:
        if not isinstance(imp.type, wasmtime.FuncType):
            continue
        try:
            linker.get(store, imp.module, imp.name or "")
            continue
        except wasmtime.WasmtimeError:
            pass
        label = f"{imp.module}.{imp.name}"
        missing.append(label)

        def trap(*_args: Any, _label: str = label) -> Any:
            raise GuestTrap(f"unresolved import {_label}")

        linker.define_func(imp.module, imp.name or "", imp.type, trap)
    return missing
