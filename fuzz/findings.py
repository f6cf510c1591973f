"""Bugs the hardening work found, with their fixes: the "what broke" column of the report.

Kept by hand (a crash found and fixed leaves no trace in a later clean run); every entry names the
target or harness that found it and the file the fix went into.
"""

from __future__ import annotations

FINDINGS: list[dict[str, str]] = [
    {
        "found_by": "fuzz_layout_tar",
        "bug": "an unreadable archive's error carried tarfile's multi-line reason list",
        "fix": "ocre_py/image/layout_tar.py: keep the first line of the reason",
    },
    {
        "found_by": "fuzz_ocre_yaml",
        "bug": "an `ocre.yaml` that is not UTF-8 escaped as UnicodeDecodeError (a traceback)",
        "fix": "ocre_py/image/ocre_yaml.py: InvalidInput naming the file and the byte",
    },
]
