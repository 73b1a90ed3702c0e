"""``[parallel]``: MPI ranks per task type."""

from __future__ import annotations

from pydantic import Field

from argyro_run.config.base import Section


class ParallelSection(Section):
    ranks_per_md: int = Field(1, ge=1, le=100000, description="MPI ranks of each LAMMPS MD run.")
    ranks_per_fe: int = Field(1, ge=1, le=100000, description="MPI ranks of each finite-element solve.")
    ranks_per_reference: int = Field(1, ge=1, le=100000, description="MPI ranks of each reference (DFT/xTB) calculation.")
