"""``[fe]``: finite-element effective diffusivity of the polycrystal (see docs/fe.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from argyro_run.config.base import Section

FIT_KINDS = ("bulk", "gb_parallel", "gb_perpendicular")


class Arrhenius(Section):
    D0_m2_per_s: float = Field(..., gt=0, le=1.0, description="Pre-exponential factor.")
    Ea_eV: float = Field(..., ge=0, le=10, description="Activation energy.")


class CaseLaws(Section):
    bulk: Arrhenius | None = Field(None, description="Bulk diffusivity of this case (overrides fe.bulk and MD).")
    gb_parallel: Arrhenius | None = Field(None, description="In-plane GB diffusivity of this case (overrides "
                                                            "fe.gb_parallel and MD).")
    gb_perpendicular: Arrhenius | None = Field(None, description="Across-GB diffusivity of this case (overrides "
                                                                 "fe.gb_perpendicular and MD).")


def _structure_ref(s: str) -> None:
    if s.count("/") != 1 or not all(s.split("/")):
        raise ValueError(f"{s!r} is not '<material>/<structure>' (e.g. 'LPSCl/ordered')")


class FECase(Section):
    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                      description="Case name (task id fe/<name>).")
    bulk: str | None = Field(None, min_length=3, description="Bulk structure '<material>/<variant>' (e.g. 'LPSCl/ordered') "
                             "whose MD diffusivity is the grains' D and whose Li density gives sigma; needed unless "
                             "fe.bulk is given (fe.bulk then overrides its diffusivity).")
    gb: list[str] = Field(default_factory=list, description="GB model structures '<material>/<gb name>' (e.g. "
                          "'LPSCl/gb_sigma5_310') whose MD gb_parallel / gb_perpendicular diffusivities the GB faces "
                          "take; needed unless fe.gb_parallel and fe.gb_perpendicular are given (those override).")
    gb_fractions: list[Annotated[float, Field(ge=0, le=1)]] | None = Field(
        None, description="Fraction of the GB faces assigned to each gb model (same length as gb, sum 1; default: "
        "equal). Counts are rounded by largest remainder, faces drawn with gb_seed.")
    gb_seed: int = Field(0, ge=0, description="Seed of the random assignment of GB models to faces.")
    laws: CaseLaws = Field(default_factory=CaseLaws, description="Arrhenius laws of this case only, per kind "
                           "(e.g. laws.gb_perpendicular = { D0_m2_per_s = 1e-9, Ea_eV = 0.5 }); they override "
                           "the [fe] laws and MD for that kind.")

    @field_validator("bulk")
    @classmethod
    def _bulk(cls, v: str | None) -> str | None:
        if v is not None:
            _structure_ref(v)
        return v

    @field_validator("gb")
    @classmethod
    def _gb(cls, v: list[str]) -> list[str]:
        for s in v:
            _structure_ref(s)
        if len(set(v)) != len(v):
            raise ValueError(f"{v} contains duplicates")
        return v

    @field_validator("gb_fractions")
    @classmethod
    def _fractions(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"{v} sum to {sum(v):g}; the fractions must sum to 1")
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.gb_fractions is not None and len(self.gb_fractions) != len(self.gb):
            raise ValueError(f"gb_fractions has {len(self.gb_fractions)} entries, gb has {len(self.gb)}; "
                             "give one fraction per GB model")
        return self

    def fractions(self) -> list[float]:
        return list(self.gb_fractions) if self.gb_fractions is not None else [1.0 / len(self.gb)] * len(self.gb)


class FESection(Section):
    temperatures_K: list[Annotated[float, Field(gt=0, le=1e5)]] = Field(
        default_factory=lambda: [300.0], min_length=1, description="FE temperatures (sweep).")
    element_degree: int = Field(1, ge=1, le=3, description="Lagrange element degree.")
    bulk: Arrhenius | None = Field(None, description="Explicit bulk diffusivity; overrides MD for every case.")
    gb_parallel: Arrhenius | None = Field(None, description="Explicit in-plane GB diffusivity; overrides MD for every case.")
    gb_perpendicular: Arrhenius | None = Field(None, description="Explicit across-GB diffusivity; overrides MD for every case.")
    cases: list[FECase] = Field(
        default_factory=list, description="Polycrystal cases (one fe/<name> task each). Default: one per material x "
        "bulk variant with all of that material's GB models in equal fractions (see docs/fe.md, Cases).")
    bc: Literal["periodic", "electrode"] = Field(
        "periodic", description="periodic: homogenised tensor (one load case per axis); electrode: c=1/c=0 on "
        "two opposite faces along each axis, no flux elsewhere (diagonal only).")
    solver_rtol: float = Field(1e-10, gt=0, lt=1, description="Relative residual of CG + GAMG.")
    carrier_density_per_nm3: float | None = Field(
        None, gt=0, le=1e3, description="Mobile-ion density for Nernst-Einstein (default: counted in each case's bulk "
        "structure; 25.0 = Li6PS5Cl, 24 Li / (0.986 nm)^3, for a case without one).")
    crossover_tolerance: float = Field(
        0.05, gt=0, lt=1, description="Crossover grain size: the smallest d from which on |D_eff/D_bulk - 1| stays "
        "below this for every larger d of the sweep.")

    @model_validator(mode="after")
    def _check(self):
        names = [c.name for c in self.cases]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"cases: names must be unique, repeated: {dup}")
        return self

    def explicit_kinds(self) -> list[str]:
        return [k for k in FIT_KINDS if getattr(self, k) is not None]
