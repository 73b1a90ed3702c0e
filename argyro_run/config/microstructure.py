"""``[microstructure]``: periodic polycrystal geometry and its gmsh mesh (see docs/fe.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from argyro_run.config.base import Section


class MicrostructureSection(Section):
    kind: Literal["voronoi", "laminate", "cubic"] = Field(
        "voronoi", description="Polycrystal geometry: periodic Voronoi grains, a laminate of layers "
        "(validation), or cubic grains in a brick layer (n_grains = k^dimension).")
    grain_sizes_nm: list[float] = Field(
        default_factory=lambda: [50.0, 200.0], min_length=1,
        description="Mean grain sizes (equivalent circle/sphere diameter; layer thickness for laminate, "
        "cube edge for cubic). A sweep: the same tessellation is scaled, only delta/d changes.")
    n_grains: int = Field(8, ge=1, le=100000, description="Grains in the periodic cell.")
    gb_thickness_nm: float = Field(1.0, gt=0, le=1e4, description="Thickness delta of the GB layer.")
    gb_model: Literal["interface", "layer"] = Field(
        "interface", description="'interface': GBs as thin interfaces (tangential conduction delta*D_par along "
        "the GB, normal resistance delta/D_perp as a concentration jump) on one conforming mesh, in units of the "
        "grain size, that serves every grain size (cost independent of delta/d). 'layer': the GB layer of "
        "thickness delta resolved by fine elements, one mesh per grain size (validation at small grain sizes).")
    mesh_size_fraction: float = Field(0.2, gt=0, le=1, description="Element size inside grains relative to the grain size.")
    mesh_size_gb_fraction: float = Field(
        0.5, gt=0, le=2, description="gb_model 'layer' only: element size in the GB layer relative to "
        "gb_thickness_nm (capped by the grain element size).")
    dimension: Literal[2, 3] = Field(3, description="2D or 3D model.")
    lloyd_iterations: int = Field(2, ge=0, le=100, description="Lloyd relaxation steps of the Voronoi seeds (0: "
                                                               "plain Poisson-Voronoi).")
    seed: int = Field(0, ge=0, description="Seed of the Voronoi points (the same for every grain size of the sweep).")

    @model_validator(mode="after")
    def _check(self):
        if len(set(self.grain_sizes_nm)) != len(self.grain_sizes_nm):
            raise ValueError("grain_sizes_nm contains duplicates")
        for g in self.grain_sizes_nm:
            if not (g > self.gb_thickness_nm):
                raise ValueError(f"grain size {g} nm must be larger than gb_thickness_nm ({self.gb_thickness_nm})")
        if self.kind == "cubic":
            k = round(self.n_grains ** (1.0 / self.dimension))
            if k ** self.dimension != self.n_grains:
                raise ValueError(f"kind 'cubic' needs n_grains = k^{self.dimension} (e.g. "
                                 f"{k ** self.dimension}), got {self.n_grains}")
        if self.kind == "laminate" and self.n_grains < 2:
            raise ValueError("kind 'laminate' needs n_grains >= 2")
        if self.gb_model == "interface":
            if "mesh_size_gb_fraction" in self.model_fields_set:
                raise ValueError("mesh_size_gb_fraction is only used with gb_model = 'layer' (the interface model "
                                 "has no GB elements); remove it or set gb_model = 'layer'")
        return self
