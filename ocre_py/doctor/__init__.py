"""``ocre doctor``: check a workdir, its image store and a partition image; repair what is safe to repair.

Every writer in the toolkit goes through :func:`ocre_py.fsutil.atomic_write`, so a power cut or a
``kill -9`` can leave only three kinds of debris: a temp file beside its target (``.NAME.*.tmp``), a
blob stored before the index entry that would have named it (an orphan), and a lock file. None of
those is damage, and ``--repair`` removes them. What *is* damage (a blob whose bytes do not match its
digest, an index entry whose blobs are gone, an image file that is not wasm, a partition that does
not mount) is reported with the path; ``--repair`` drops what can be re-fetched (index entries,
corrupt blobs) and leaves user data it cannot rebuild alone.

The checks read only; :func:`diagnose` never changes a byte unless ``repair`` is true, and then it
holds the store's lock so it cannot race a concurrent ``ocre image`` writer.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ocre_py.doctor.partition import check_partition
from ocre_py.doctor.report import DoctorReport, Finding
from ocre_py.doctor.store import check_store
from ocre_py.doctor.workdir import check_workdir

log = logging.getLogger(__name__)


__all__ = ["DoctorReport", "Finding", "check_partition", "check_store", "check_workdir", "diagnose"]


# --- all of it ------------------------------------------------------------------------------------


def diagnose(
    workdir: str | os.PathLike[str],
    *,
    store: str | os.PathLike[str] | None = None,
    partition: str | os.PathLike[str] | None = None,
    block_size: int | None = None,
    repair: bool = False,
) -> DoctorReport:
    """Check (and with ``repair`` fix) a workdir, its store (default ``<workdir>/store``), a partition."""
    report = DoctorReport()
    wd = Path(workdir)
    store_root = Path(store) if store is not None else wd / "store"
    report.checked.append(f"workdir {wd}")
    report.findings += check_workdir(wd, repair=repair)
    report.checked.append(f"store {store_root}")
    report.findings += check_store(store_root, repair=repair)
    if partition is not None:
        report.checked.append(f"partition {partition}")
        report.findings += check_partition(partition, block_size=block_size, repair=repair)
    for f in report.findings:
        if f.repaired:
            log.info("repaired %s: %s (%s)", f.path, f.problem, f.repaired)
    return report
