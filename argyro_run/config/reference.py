"""``[reference]``: the calculator that labels training structures."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from argyro_run.config.base import Section
from argyro_run.learning.reference import BUILTIN as BUILTIN_CALCULATORS
from argyro_run.learning.reference import FOUNDATION_DEFAULT_MODEL, FOUNDATION_MODELS, ReferenceSpec, check_spec

_MODELS_DOC = "; ".join(f"{c}: {', '.join(repr(m) for m in ms)} (default {FOUNDATION_DEFAULT_MODEL[c]!r})"
                        for c, ms in FOUNDATION_MODELS.items())
_MODULE_CLASS = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class FallbackSection(Section):
    electronic_temperature_K: float | None = Field(None, gt=0, le=1e5, description="Electronic temperature for a "
                                                                                   "retry after an SCF failure.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Calculator keyword arguments overriding "
                                                                     "`reference.kwargs` on retries.")


class ReferenceSection(Section):
    calculator: str = Field("tblite", description="'tblite' | 'chgnet' | 'sevenn' | 'vasp' | 'espresso' | 'gpaw' | 'cp2k' | "
                                                  "'package.module:Class' (an ASE calculator). chgnet and sevenn are pretrained "
                                                  "universal potentials loaded from their installed packages "
                                                  "(pip extra 'foundation').")
    method: str = Field("GFN1-xTB", min_length=1, description="Method, e.g. GFN1-xTB or GFN2-xTB for tblite; "
                                                              "functional name for DFT codes.")
    model: str | None = Field(None, description=f"Pretrained model of calculator = 'chgnet' | 'sevenn' (weights "
                                                f"shipped in the package, never "
                                                f"downloaded); {_MODELS_DOC}. Not used by other calculators.")
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

    @model_validator(mode="after")
    def _model(self):
        if self.calculator in FOUNDATION_MODELS or self.model is not None:
            problems = check_spec(ReferenceSpec(calculator=self.calculator, model=self.model))
            if problems:
                raise ValueError("; ".join(problems))
            if self.model is None:  # recorded in the provenance's configuration as the model used
                self.model = FOUNDATION_DEFAULT_MODEL[self.calculator]
        if self.calculator in FOUNDATION_MODELS:  # a value given is used or rejected, never ignored
            unused = [f"reference.{k}" for k in ("method", "electronic_temperature_K", "command") if k in self.model_fields_set]
            if "electronic_temperature_K" in self.fallback.model_fields_set:
                unused.append("reference.fallback.electronic_temperature_K")
            if unused:
                verb = "does" if len(unused) == 1 else "do"
                raise ValueError(f"{', '.join(unused)} {verb} not apply to calculator = {self.calculator!r} (a pretrained "
                                 f"potential, chosen with reference.model); remove {'it' if len(unused) == 1 else 'them'}")
        return self
