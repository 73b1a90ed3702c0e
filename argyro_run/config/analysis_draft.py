"""DRAFT ``[analysis]`` model, used only while ``config/analysis.py`` (MD developer) does not exist."""

from __future__ import annotations

from pydantic import Field, model_validator

from argyro_run.config.base import Section


class AnalysisSection(Section):
    fit_start_ps: float = Field(5.0, ge=0, le=1e7, description="Start of the MSD fit window (production time).")
    fit_end_ps: float | None = Field(None, gt=0, le=1e7, description="End of the MSD fit window (default: end of production).")
    n_blocks: int = Field(5, ge=1, le=1000, description="Blocks for the diffusivity uncertainty.")
    species: str = Field("Li", description="Diffusing species.")

    @model_validator(mode="after")
    def _check(self):
        if self.fit_end_ps is not None and self.fit_end_ps <= self.fit_start_ps:
            raise ValueError(f"fit_end_ps ({self.fit_end_ps}) must be larger than fit_start_ps ({self.fit_start_ps})")
        return self
