"""Fuzz the autostart file reader (the same rules as the firmware's C parser)."""

from __future__ import annotations

from ocre_py.zephyr.storage import autostart

PARSER = "ocre_py.zephyr.storage.autostart.parse"


def seeds() -> list[bytes]:
    entries = [
        autostart.AutostartEntry("hello", "hello.wasm", ("a", "b"), (("K", "V"),), ("filesystem",), True),
        autostart.AutostartEntry("blink", "blink.wasm"),
    ]
    return [autostart.render(entries).encode(), b"ocre-autostart 1\n# nothing\n"]


def check(data: bytes) -> None:
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return  # the device reads bytes; the Python reader is handed text by its callers
    entries = autostart.parse(text, source="fuzz")
    for e in entries:
        assert "/" not in e.image and "\t" not in e.name
    # What parses must render and parse back to the same entries (the writer and reader agree).
    assert autostart.parse(autostart.render(entries)) == entries


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_autostart"))
