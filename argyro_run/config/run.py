"""``[run]``: name, archive, scratch directory, seed, error policy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from argyro_run.config.base import Section


class RunSection(Section):
    name: str = Field("argyro-run", min_length=1, max_length=200, description="Name of this run (used in logs and the archive).")
    archive: str = Field("results.h5", min_length=1, description="HDF5 archive path, relative to the input file's directory (or "
                                                                 "to the folder given by 'run --outdir').")
    workdir: str = Field("work", min_length=1, description="Scratch directory for task files, relative to the input file's "
                                                           "directory (or to 'run --outdir').")
    seed: int = Field(12345, ge=0, le=2**32 - 1, description="Master random seed; every random choice derives from it.")
    on_error: Literal["stop", "continue"] = Field("stop", description="'stop' at the first failed task, or 'continue' "
                                                                      "with independent tasks (an analysis then "
                                                                      "uses the temperatures that finished).")
