"""Which tasks of a plan an existing archive already holds (for ``argyro-run plan``/resume).

Hook: if ``argyro_run.archive`` provides ``done_tasks(path) -> dict[task_id, hash]``, it is used;
a task counts as done only when the archive's hash equals the plan's (settings unchanged).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def done_task_ids(plan, archive_path: Path) -> set[str] | None:
    """Ids of tasks whose results with the same hash are in the archive; None if unknown."""
    if not Path(archive_path).is_file():
        return set()
    try:
        archive = importlib.import_module("argyro_run.archive")
    except ModuleNotFoundError:
        log.info("argyro_run.archive is not available: cannot tell which tasks are done")
        return None
    reader = getattr(archive, "done_tasks", None)
    if reader is None:
        return None
    try:
        stored = reader(archive_path)
    except OSError as exc:  # not an HDF5 archive (or unreadable): unknown, never "nothing done"
        log.warning("cannot read %s as an archive: %s", archive_path, exc)
        return None
    return {t.id for t in plan.tasks if stored.get(t.id) == t.hash}
