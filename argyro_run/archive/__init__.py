"""HDF5 results archive: one file, one group per task (``/<task id>/...``), ``/provenance``, ``/plan``.

Only the writer rank (world rank 0) touches h5py. Crash safety: every update (provenance at the
start, each finished task, the end) is written to a copy ``<archive>.tmp`` which then atomically
replaces the archive (``os.replace``), so a SIGKILL at any moment leaves either the previous or
the new complete file. Layout: ``docs/archive.md``.
"""

from argyro_run.archive.io import (  # noqa: F401
    RUNTIME_ATTRS,
    Archive,
    ArchiveWriter,
    done_tasks,
    open_archive,
    read_result,
    write_result,
)

__all__ = ["Archive", "ArchiveWriter", "done_tasks", "open_archive", "read_result", "write_result", "RUNTIME_ATTRS"]
