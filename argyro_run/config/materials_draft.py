"""DRAFT ``[[materials]]`` model, used only while ``config/materials.py`` (structures developer)
does not exist. Minimal: a named argyrodite, its variants, optional structure file, GB models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from argyro_run.config.base import Section

HALIDES = ("Cl", "Br", "I")


class GrainBoundary(Section):
    sigma: int = Field(..., ge=3, le=999, description="CSL Sigma value (odd).")
    plane: list[int] = Field(default_factory=lambda: [1, 1, 0], min_length=3, max_length=3, description="GB plane Miller indices.")
    axis: list[int] = Field(default_factory=lambda: [0, 0, 1], min_length=3, max_length=3, description="Rotation axis.")

    @field_validator("sigma")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("sigma must be odd (3, 5, 7, ...)")
        return v


class Material(Section):
    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Short name used in task ids.")
    formula: str = Field("Li6PS5Cl", description="Argyrodite formula Li6PS5X.")
    halide: Literal["Cl", "Br", "I"] = Field("Cl", description="Halide X.")
    structure_file: str | None = Field(None, description="Start from this structure file (any ASE format) instead of the builder.")
    lattice_constant_A: float = Field(9.86, gt=1, le=100, description="Cubic lattice constant.")
    supercell: list[int] = Field(default_factory=lambda: [1, 1, 1], min_length=3, max_length=3, description="Supercell repetitions.")
    variants: list[Literal["ordered", "disordered"]] = Field(default_factory=lambda: ["ordered"], min_length=1, description="Bulk variants: ordered and/or anion-disordered.")
    site_disorder: float = Field(0.5, ge=0, le=1, description="Fraction of halide/S2- site exchange in the disordered variant.")
    grain_boundaries: list[GrainBoundary] = Field(default_factory=list, description="Bicrystal GB models.")

    def elements(self) -> set[str]:
        return {"Li", "P", "S", self.halide}

    def structure_names(self) -> list[str]:
        names = list(self.variants)
        names += [f"gb_sigma{g.sigma}_{''.join(map(str, g.plane))}" for g in self.grain_boundaries]
        return names
