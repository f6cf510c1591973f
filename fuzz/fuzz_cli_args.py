"""Fuzz the CLI's value parsers: sizes, durations, mounts, env, capabilities, names, image refs."""

from __future__ import annotations

from ocre_py.image.reference import parse_reference
from ocre_py.names import check_name
from ocre_py.runtime.spec import Mount, check_capabilities, parse_env
from ocre_py.units import parse_duration, parse_size

PARSER = "units.parse_size/parse_duration, spec.Mount.parse/parse_env/check_capabilities, names, reference"


def seeds() -> list[bytes]:
    return [b"\x0064KiB", b"\x011.5s", b"\x02/tmp:/data", b"\x03K=V\0A=B", b"\x04filesystem\0ocre:api",
            b"\x05hello", b"\x06localhost:5000/hello:1", b"\x06hello@sha256:" + b"a" * 64,
            b"\x00" + b"9" * 400, b"\x05abc\n"]  # fmt: skip


_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def check(data: bytes) -> None:
    kind, text = (data[0] % 7, data[1:].decode("utf-8", "replace")) if data else (0, "")
    if kind == 0:
        assert parse_size(text) > 0
    elif kind == 1:
        assert parse_duration(text) > 0
    elif kind == 2:
        m = Mount.parse(text)
        assert str(m.host).startswith("/") and m.guest.startswith("/")  # "/" itself is allowed (D10)
    elif kind == 3:
        parse_env(text.split("\0"))
    elif kind == 4:
        check_capabilities(text.split("\0"))
    elif kind == 5:
        name = check_name(text)
        assert set(name) <= _NAME_CHARS and not name.startswith("."), name
    else:
        ref = parse_reference(text)
        assert ".." not in ref.repository.split("/")
        assert not any(c.isspace() for c in str(ref)), ref


if __name__ == "__main__":
    import sys

    from fuzz._harness import main

    sys.exit(main("fuzz_cli_args"))
