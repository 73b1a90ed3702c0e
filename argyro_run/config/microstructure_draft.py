"""DRAFT ``[microstructure]`` model, used only while ``config/microstructure.py`` does not exist."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from argyro_run.config.base import Section


class MicrostructureSection(Section):
    kind: Literal["voronoi", "laminate", "cubic"] = Field("voronoi", description="Polycrystal geometry.")
    grain_sizes_nm: list[float] = Field(default_factory=lambda: [50.0, 200.0], min_length=1, description="Mean grain sizes (sweep).")
    n_grains: int = Field(8, ge=1, le=100000, description="Grains in the periodic cell.")
    gb_thickness_nm: float = Field(1.0, gt=0, le=1e4, description="Thickness of the GB layer.")
    mesh_size_fraction: float = Field(0.2, gt=0, le=1, description="Element size relative to the grain size.")
    dimension: Literal[2, 3] = Field(3, description="2D or 3D model.")

    @model_validator(mode="after")
    def _check(self):
        if len(set(self.grain_sizes_nm)) != len(self.grain_sizes_nm):
            raise ValueError("grain_sizes_nm contains duplicates")
        for g in self.grain_sizes_nm:
            if not (g > self.gb_thickness_nm):
                raise ValueError(f"grain size {g} nm must be larger than gb_thickness_nm ({self.gb_thickness_nm})")
        return self
