"""``[fe]``: finite-element effective diffusivity of the polycrystal (see docs/fe.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from argyro_run.config.base import Section


class Arrhenius(Section):
    D0_m2_per_s: float = Field(..., gt=0, le=1.0, description="Pre-exponential factor.")
    Ea_eV: float = Field(..., ge=0, le=10, description="Activation energy.")


class FESection(Section):
    temperatures_K: list[Annotated[float, Field(gt=0, le=1e5)]] = Field(
        default_factory=lambda: [300.0], min_length=1, description="FE temperatures (sweep).")
    element_degree: int = Field(1, ge=1, le=3, description="Lagrange element degree.")
    bulk: Arrhenius | None = Field(None, description="Explicit bulk diffusivity (else from MD).")
    gb_parallel: Arrhenius | None = Field(None, description="Explicit in-plane GB diffusivity (else from MD; else bulk).")
    gb_perpendicular: Arrhenius | None = Field(None, description="Explicit across-GB diffusivity (else from MD; else bulk).")
    bc: Literal["periodic", "electrode"] = Field(
        "periodic", description="periodic: homogenised tensor (one load case per axis); electrode: c=1/c=0 on "
        "two opposite faces along each axis, no flux elsewhere (diagonal only).")
    solver_rtol: float = Field(1e-10, gt=0, lt=1, description="Relative residual of CG + GAMG.")
    carrier_density_per_nm3: float = Field(
        25.0, gt=0, le=1e3, description="Mobile Li density for Nernst-Einstein (Li6PS5Cl: 24 Li / (0.986 nm)^3 = 25.0).")

    def explicit_diffusivities(self) -> bool:
        return self.bulk is not None
