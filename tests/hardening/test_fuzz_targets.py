"""The fuzz targets of ``fuzz/``, bounded, under hypothesis: CI's form of ``make fuzz``.

Each target's ``check`` is fed (a) random bytes, (b) its valid seeds mutated by a few byte edits —
the cheap half of what libFuzzer does — and (c) every crash reproducer ever found, kept in
``fuzz/regressions/<target>/``. The oracle is the one the atheris runs use (``fuzz._harness``): only an
``OcreError`` with a one-line message may come out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import TARGETS
from fuzz._harness import load_target, mutate, one_input

REGRESSIONS = Path(__file__).resolve().parents[2] / "fuzz" / "regressions"
# Examples per target, sized so the whole file stays within ~25 s on a loaded 2-core machine:
# YAML targets pay for pykwalify, the partition target for littlefs mounts.
EXAMPLES = {"fuzz_boards": 40, "fuzz_ocre_config": 60, "fuzz_ocre_yaml": 80, "fuzz_layout_tar": 80,
            "fuzz_partition": 80, "fuzz_daemon_api": 120}  # fmt: skip
EDITS = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 255)), min_size=0, max_size=6
)


def _regressions() -> list[tuple[str, Path]]:
    return [(t, p) for t in TARGETS for p in sorted((REGRESSIONS / t).glob("*")) if p.is_file()]


@pytest.mark.parametrize("target", TARGETS)
def test_seeds_are_accepted(target: str) -> None:
    """The seeds are valid inputs (else the fuzzer starts from error paths only); most must parse."""
    from ocre_py.errors import OcreError

    mod = load_target(target)
    results = []
    for seed in mod.seeds():
        try:
            mod.check(seed)
            results.append(True)
        except OcreError:
            results.append(False)
    assert any(results), f"{target}: no seed parses"


@pytest.mark.parametrize("target", TARGETS)
def test_only_our_errors_come_out(target: str) -> None:
    mod = load_target(target)
    run = one_input(mod.check)
    seeds = mod.seeds()

    @settings(
        max_examples=EXAMPLES.get(target, 300),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.one_of(st.binary(max_size=512), st.tuples(st.sampled_from(seeds), EDITS)))
    def fuzz(case: bytes | tuple[bytes, list[tuple[int, int, int]]]) -> None:
        run(case if isinstance(case, bytes) else mutate(*case))

    fuzz()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # a DTS string escape Python deprecates
@pytest.mark.parametrize(("target", "path"), _regressions(), ids=lambda v: getattr(v, "name", v))
def test_every_crash_found_stays_fixed(target: str, path: Path) -> None:
    one_input(load_target(target).check)(path.read_bytes())
