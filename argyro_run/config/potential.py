"""``[potential]``: moment tensor potential settings (or an existing .mtp file)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from argyro_run.config.base import Section
from argyro_run.potentials.basis import LEVELS


class PotentialSection(Section):
    level: int = Field(10, description="MTP level (even, 2..28); higher is more accurate and slower.")
    species: list[str] | None = Field(
        None, min_length=1,
        description="Chemical symbols in MTP type order (default: the elements of all [[materials]], material by "
                    "material in the order of their structures, each once, e.g. Li, P, S, Cl; with potential.file "
                    "the file's species line).")
    max_dist_A: float = Field(5.0, gt=0, le=20, description="Cutoff radius.")
    min_dist_A: float = Field(1.6, gt=0, le=20, description="Smallest interatomic distance of the radial basis.")
    radial_basis_size: int = Field(8, ge=2, le=64, description="Number of Chebyshev radial basis functions.")
    energy_weight: float = Field(1.0, ge=0, le=1e6, description="Weight of energies in the fit.")
    force_weight: float = Field(0.01, ge=0, le=1e6, description="Weight of forces in the fit.")
    stress_weight: float = Field(0.001, ge=0, le=1e6, description="Weight of stresses in the fit.")
    file: str | None = Field(None, description="Existing trained .mtp file: skips active learning (MD runs from it).")
    training_set: str | None = Field(None, description="Existing training set (.cfg) to start active learning from.")

    @field_validator("level")
    @classmethod
    def _level(cls, v: int) -> int:
        if v not in LEVELS:
            raise ValueError("not an MTP level; allowed: even numbers 2..28")
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.min_dist_A >= self.max_dist_A:
            raise ValueError(f"min_dist_A ({self.min_dist_A}) must be smaller than max_dist_A ({self.max_dist_A})")
        if self.species is not None and len(set(self.species)) != len(self.species):
            raise ValueError(f"species {self.species} contains duplicates")
        return self
