"""Which tasks of a plan an existing archive already holds (for ``argyro-run plan``/resume): a task
counts as done only when the archive's hash equals the plan's (settings unchanged), it ran with all
its dependencies, and so did every task it depends on (:func:`reusable`)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def done_task_ids(plan, archive_path: Path) -> set[str] | None:
    """Ids of tasks whose results with the same hash are in the archive; None if unknown."""
    if not Path(archive_path).is_file():
        return set()
    from argyro_run.archive import done_tasks  # h5py: loaded only when an archive is read

    try:
        stored = done_tasks(archive_path)
    except OSError as exc:  # not an HDF5 archive (or unreadable): unknown, never "nothing done"
        log.warning("cannot read %s as an archive: %s", archive_path, exc)
        return None
    return reusable(plan, stored)


def reusable(plan, stored: dict[str, str]) -> set[str]:
    """Ids of the tasks whose stored hash (``stored``: id -> hash of the archive's complete done
    tasks) equals the plan's and all of whose dependencies are reusable too: a task downstream of
    one that runs again runs again (its input may change)."""
    out: set[str] = set()
    for t in plan.tasks:                     # dependencies come first (topological order)
        if stored.get(t.id) == t.hash and all(d in out for d in t.deps):
            out.add(t.id)
    return out
