"""Restart policies (``--restart no|on-failure[:N]|always``), as Docker defines them.

``always`` restarts after any exit the user did not ask for, and starts the container when the
daemon starts. ``on-failure[:N]`` restarts after a non-zero exit (at most N times when N is given)
and after the daemon died under the container. An exit the user caused (``stop``, ``kill``) never
restarts. Restarts back off 0.1 s, 0.2 s, 0.4 s … up to 10 s; the delay resets once a run lasts
10 s, so a crash-looping container does not eat the CPU.
"""

from __future__ import annotations

from ocre_py.errors import InvalidInput
from ocre_py.values import Value

_EXPECTED = "no, on-failure, on-failure:N (N ≥ 0) or always"
MAX_BACKOFF = 10.0
STABLE_RUN = 10.0


class RestartPolicy(Value):
    """A parsed ``--restart`` value (a :class:`~ocre_py.values.Value`, not a dataclass: clients check
    ``--restart`` when they build a create request, at start-up)."""

    __slots__ = ("max_retries", "name")

    def __init__(self, name: str = "no", max_retries: int = 0) -> None:
        self.name = name
        self.max_retries = max_retries  # on-failure only; 0 = unlimited

    @classmethod
    def parse(cls, text: str | None) -> RestartPolicy:
        if text is None or text == "" or text == "no":
            return cls("no")
        if text == "always":
            return cls("always")
        name, sep, count = text.partition(":")
        if name == "on-failure":
            if not sep:
                return cls("on-failure")
            if count.isdigit():
                return cls("on-failure", int(count))
        raise InvalidInput.field(None, "restart policy", text, _EXPECTED)

    def __str__(self) -> str:
        if self.name == "on-failure" and self.max_retries:
            return f"on-failure:{self.max_retries}"
        return self.name

    def should_restart(self, exit_code: int | None, restarts: int) -> bool:
        """After an exit the user did not cause: restart? ``restarts`` = policy restarts so far."""
        if self.name == "always":
            return True
        if self.name == "on-failure":
            failed = exit_code is None or exit_code != 0
            return failed and (self.max_retries == 0 or restarts < self.max_retries)
        return False

    def autostart(self, was_running: bool, restarts: int) -> bool:
        """Start this container when the daemon starts?"""
        if self.name == "always":
            return True
        return was_running and self.should_restart(None, restarts)


def backoff(attempt: int) -> float:
    """Delay before restart number ``attempt`` (0-based) of a container that keeps failing."""
    return min(MAX_BACKOFF, 0.1 * (2 ** min(attempt, 10)))
