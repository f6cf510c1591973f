"""Numbers at the API boundary: finite and in range, refused with a message naming the field.

JSON as Python reads it admits ``NaN``, ``Infinity`` and ``1e999`` (a float ``inf``), and a query
string's ``float()`` takes ``nan`` and ``inf``; none of them may reach a timer, a memory limit or
an ``int()``. The CLI's parsers (:mod:`ocre_py.units`) refuse the same values on the client side.
"""

from __future__ import annotations

import math

from ocre_py.errors import InvalidInput

#: The longest duration (timeout, grace, wait) the daemon accepts: about 31 years, well inside
#: ``threading.TIMEOUT_MAX``.
MAX_SECONDS = 1e9


def finite_number(field: str, value: object, *, low: float, high: float, low_open: bool = False) -> float:
    """``value`` as a float when it is a finite number in ``[low, high]`` (``(low, high]`` with
    ``low_open``); otherwise :class:`InvalidInput` naming ``field``."""
    low_word = "greater than" if low_open else "at least"
    expected = f"a finite number {low_word} {low:g} and at most {high:g}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput.field(None, field, value, expected)
    try:
        number = float(value)
    except OverflowError:  # an int with hundreds of digits
        raise InvalidInput.field(None, field, value, expected) from None
    if not math.isfinite(number) or number < low or (low_open and number == low) or number > high:
        raise InvalidInput.field(None, field, value, expected)
    return number
