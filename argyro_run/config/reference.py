"""``[reference]``: the calculator that labels training structures."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from argyro_run.config.base import Section

BUILTIN_CALCULATORS = ("tblite", "vasp", "espresso", "gpaw", "cp2k")
_MODULE_CLASS = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class FallbackSection(Section):
    electronic_temperature_K: float | None = Field(None, gt=0, le=1e5, description="Electronic temperature for a retry after an SCF failure.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Calculator keyword arguments overriding `reference.kwargs` on retries.")


class ReferenceSection(Section):
    calculator: str = Field("tblite", description="'tblite' | 'vasp' | 'espresso' | 'gpaw' | 'cp2k' | 'package.module:Class' (an ASE calculator).")
    method: str = Field("GFN1-xTB", min_length=1, description="Method, e.g. GFN1-xTB or GFN2-xTB for tblite; functional name for DFT codes.")
    electronic_temperature_K: float = Field(300.0, gt=0, le=1e5, description="Electronic (Fermi smearing) temperature.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra keyword arguments passed to the calculator.")
    command: str | None = Field(None, description="Launch command of a DFT code, e.g. 'mpirun -n 4 vasp_std'.")
    timeout_s: float = Field(3600.0, gt=0, le=1e7, description="Wall-clock limit of one reference calculation.")
    max_retries: int = Field(2, ge=0, le=20, description="Retries with the fallback settings after a failure.")
    fallback: FallbackSection = Field(default_factory=FallbackSection, description="Settings used when a calculation is retried.")

    @field_validator("calculator")
    @classmethod
    def _calc(cls, v: str) -> str:
        if v in BUILTIN_CALCULATORS or _MODULE_CLASS.match(v):
            return v
        raise ValueError(f"unknown calculator {v!r}; allowed: {', '.join(BUILTIN_CALCULATORS)} or 'package.module:Class'")
