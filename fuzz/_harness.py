"""What every target shares: the one-input wrapper, the oracle and the libFuzzer entry point.

The oracle is the issue's rule: bad input may only come out as one of our errors. An
:class:`OcreError` (which includes the documented builtin mappings such as ``InvalidInput`` being a
``ValueError``) is a clean refusal as long as its message is one non-empty line; any other exception,
and a multi-line or empty message, is a crash that the fuzzer reports with its input.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from types import ModuleType


class BadErrorMessage(AssertionError):
    """An OcreError escaped but its message would render badly (empty or several lines)."""


def one_input(check: Callable[[bytes], object]) -> Callable[[bytes], None]:
    """Wrap ``check`` so clean refusals pass and everything else propagates to the fuzzer."""

    from ocre_py.errors import OcreError  # imported late: after the driver started instrumenting

    def run(data: bytes) -> None:
        try:
            check(data)
        except OcreError as exc:
            message = exc.message
            if not isinstance(message, str) or not message or "\n" in message:
                raise BadErrorMessage(f"{type(exc).__name__} with a bad message: {message!r}") from exc

    return run


def load_target(name: str) -> ModuleType:
    return importlib.import_module(f"fuzz.{name.removesuffix('.py')}")


def main(name: str, argv: Sequence[str] | None = None) -> int:
    """libFuzzer entry: instrument ``ocre_py`` as it is imported, then fuzz target ``name``.

    ``argv`` are libFuzzer flags (``-max_total_time=60``, corpus directories...).
    """
    import atheris

    already = [m for m in sys.modules if m == "ocre_py" or m.startswith("ocre_py.")]
    if already:  # imported before instrumentation could hook in: instrument what is loaded
        target = load_target(name)
        atheris.instrument_all()
    else:
        with atheris.instrument_imports(include=["ocre_py", "fuzz"]):
            target = load_target(name)
    atheris.Setup([sys.argv[0], *(argv if argv is not None else sys.argv[1:])], one_input(target.check))
    atheris.Fuzz()
    return 0


def mutate(seed: bytes, edits: Sequence[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, value) edits to ``seed``: the hypothesis side's cheap mutator.

    kind 0 overwrites a byte, 1 inserts one, 2 deletes one, 3 truncates; positions wrap around the
    current length so every edit applies.
    """
    out = bytearray(seed)
    for kind, pos, value in edits:
        if not out:
            out.append(value)
            continue
        at = pos % len(out)
        if kind == 0:
            out[at] = value
        elif kind == 1:
            out.insert(at, value)
        elif kind == 2:
            del out[at]
        else:
            del out[at:]
    return bytes(out)


if __name__ == "__main__":  # python -m fuzz._harness TARGET [libFuzzer flags]: ocre_py not yet loaded
    sys.exit(main(sys.argv[1], sys.argv[2:]))
