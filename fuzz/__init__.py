"""Coverage-guided fuzz targets for every parser that takes outside input (issue 7).

Each ``fuzz_*.py`` module names one parser and exposes the same three things:

* ``PARSER``: the dotted name of what it drives (for the report);
* ``seeds()``: valid inputs to start from, built in memory so the targets need no fixtures;
* ``check(data)``: feed ``data`` to the parser; an :class:`~ocre_py.errors.OcreError` is a clean
  refusal, anything else escaping is a crash.

``python -m fuzz.run`` drives them under atheris (libFuzzer) for a set time and regenerates
``docs/reliability.md``; ``tests/hardening/test_fuzz_targets.py`` runs the same ``check`` functions
under hypothesis, bounded, so CI exercises them on every run. To drive one target by hand with any
libFuzzer flags: ``python -m fuzz._harness fuzz_wasm -max_total_time=60 build/fuzz/corpus/fuzz_wasm``
(``python -m fuzz.fuzz_wasm`` works too but instruments late, after ``ocre_py`` is imported: slower
to start). ``python -m fuzz.crashkill`` is the kill -9 harness; ``python -m fuzz.report`` rewrites
the report from ``fuzz/results/``.
"""

TARGETS: tuple[str, ...] = (
    "fuzz_wasm",
    "fuzz_manifest",
    "fuzz_layout_tar",
    "fuzz_ocre_yaml",
    "fuzz_cli_args",
    "fuzz_boards",
    "fuzz_ocre_config",
    "fuzz_autostart",
    "fuzz_partition",
    "fuzz_dts",
    "fuzz_bundle",
    "fuzz_daemon_api",
)
