"""DRAFT ``[fe]`` model, used only while ``config/fe.py`` (FE developer) does not exist."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from argyro_run.config.base import Section


class Arrhenius(Section):
    D0_m2_per_s: float = Field(..., gt=0, le=1.0, description="Pre-exponential factor.")
    Ea_eV: float = Field(..., ge=0, le=10, description="Activation energy.")


class FESection(Section):
    temperatures_K: list[Annotated[float, Field(gt=0, le=1e5)]] = Field(default_factory=lambda: [300.0], min_length=1, description="FE temperatures (sweep).")
    element_degree: int = Field(1, ge=1, le=3, description="Lagrange element degree.")
    bulk: Arrhenius | None = Field(None, description="Explicit bulk diffusivity (else from MD).")
    gb_parallel: Arrhenius | None = Field(None, description="Explicit in-plane GB diffusivity (else from MD).")
    gb_perpendicular: Arrhenius | None = Field(None, description="Explicit across-GB diffusivity (else from MD).")

    def explicit_diffusivities(self) -> bool:
        return self.bulk is not None
