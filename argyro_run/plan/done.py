"""Which tasks of a plan an existing archive already holds (for ``argyro-run plan``/resume): a task
counts as done only when the archive's hash equals the plan's (settings unchanged)."""

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
    return {t.id for t in plan.tasks if stored.get(t.id) == t.hash}
