"""The CLI's exit codes, named in one place (pip's ``status_codes.py`` habit)."""

SUCCESS = 0
FAILURE = 1  # an operation failed (OcreError)
USAGE = 2  # bad arguments or bad input (argparse, InvalidInput)
INTERRUPTED = 130  # Ctrl-C
KILLED = 137  # a container killed (Docker's SIGKILL convention)
START_FAILED = 125  # the container could not be started (Docker's code for daemon-side failures)
