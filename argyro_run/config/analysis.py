"""``[analysis]``: MSD, tracer diffusivity with its Bayesian uncertainty (kinisi; block estimate as a
cross-check), GB-resolved diffusion,
Arrhenius fits and conductivity. Tasks: ``analysis/<material>/<structure>`` and
``arrhenius/<material>`` (``argyro_run.analysis.tasks``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from argyro_run.config.base import Section


def production_samples(production_ps: float, dump_interval_fs: float) -> int:
    """Positions an MD production keeps: one every dump_interval_fs, both ends included."""
    return int(round(float(production_ps) * 1000.0 / float(dump_interval_fs))) + 1


def block_length_ps(samples: int, dt_ps: float, n_blocks: int) -> float:
    """The longest lag one of ``n_blocks`` contiguous blocks of a run of ``samples`` positions every
    ``dt_ps`` holds (the cross-check's blocks; the fit window must end within it): (samples //
    n_blocks - 1) dt_ps, e.g. 299 ps for 600 ps sampled every 1 ps in 2 blocks. The one formula of the
    input check (config/root.py), the plan's cost and the analysis task."""
    return (int(samples) // max(1, int(n_blocks)) - 1) * float(dt_ps)


class AnalysisSection(Section):
    fit_start_ps: float | None = Field(None, ge=0, le=1e7,
                                       description="Start of the MSD fit window (lag time; default: a fifth of a "
                                                   "block, md.production_ps / n_blocks / 5).")
    fit_end_ps: float | None = Field(None, gt=0, le=1e7,
                                     description="End of the MSD fit window (lag time; default: half a block).")
    n_blocks: int = Field(5, ge=1, le=1000,
                          description="Production segments of the block cross-check (mean and standard error of "
                                      "the blocks' D, archived next to kinisi's D); the fit window must fit in "
                                      "one block.")
    species: str | None = Field(None, min_length=1, max_length=2, pattern=r"^[A-Z][a-z]?$",
                                description="Diffusing species analysed in every material (default: each "
                                            "material's mobile_ion).")
    gb_width_A: float = Field(6.0, gt=0, le=100, description="Width of the GB slab (centred on each GB plane) "
                                                            "for GB-resolved diffusion.")
    haven_ratio: float = Field(1.0, gt=0, le=10, description="Haven ratio H for the Nernst-Einstein conductivity "
                                                             "sigma = n e^2 D_tracer / (k_B T H).")
    collective: bool = Field(False, description="Also compute the collective (charge) diffusivity of the species "
                                                "and the Haven ratio D_tracer / D_collective (noisy in short runs).")

    @model_validator(mode="after")
    def _check(self):
        if self.fit_end_ps is not None and self.fit_start_ps is not None and self.fit_end_ps <= self.fit_start_ps:
            raise ValueError(f"fit_end_ps ({self.fit_end_ps}) must be larger than fit_start_ps ({self.fit_start_ps})")
        return self
