"""``[reference]``: the calculator that labels training structures.

This module owns the built-in calculator names, the pretrained models of the foundation
calculators and the checks of a calculator/model choice that need no run; the reference stage
(:mod:`argyro_run.learning.reference`) imports them from here, so config imports no stage."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from argyro_run.config.base import Section

BUILTIN_CALCULATORS = ("tblite", "chgnet", "sevenn", "vasp", "espresso", "gpaw", "cp2k")

# Pretrained universal potentials whose weights are files inside the installed wheel (compute
# nodes have no network: nothing is ever downloaded). calculator -> model name -> how to load it:
# chgnet: the ``model_name`` of ``CHGNet.load``; sevenn: (attribute of ``sevenn._const`` holding
# the checkpoint path in the package, modal of a multi-fidelity model or None).
FOUNDATION_MODELS: dict[str, dict[str, Any]] = {
    "chgnet": {"0.3.0": "0.3.0", "r2scan": "r2scan"},
    "sevenn": {"7net-0": ("SEVENNET_0_11Jul2024", None),
               "7net-l3i5": ("SEVENNET_l3i5", None),
               "7net-mf-0-pbe": ("SEVENNET_MF_0", "PBE"),
               "7net-mf-0-r2scan": ("SEVENNET_MF_0", "R2SCAN")},
}
FOUNDATION_DEFAULT_MODEL = {"chgnet": "0.3.0", "sevenn": "7net-0"}

# A converged label above the learning potential's energy by more than this (per atom, measured from the potential's
# error on the rest of the batch) is computed again with [reference.fallback] and the lower energy kept when it is
# lower by more than this (learning.reference.recheck_labels / recheck_suspects). Measured (docs/references.md):
# CP2K's OT SCF stopped 4.7 eV (90 meV/atom) above the ground state on 2 of 11 charged 51-atom Li6PS5Cl/I cells
# while reporting convergence. A poor early potential (the quickstart's level-6 MTP was 0.7-1.2 eV/atom off its
# first rounds' labels; docs/learning.md) no longer rechecks every label: its common shift is taken out, and a
# label must stand out of its scatter.
RECHECK_ENERGY_MEV_PER_ATOM = 50.0
# The criterion is relative to the potential's error on the other labels of the batch once at least this many of
# them have a prediction (below that it is absolute) ...
RECHECK_MIN_OTHERS = 3
# ... and a label stands out when its residual exceeds the others' median by more than this many of their robust
# standard deviations (1.4826 x the median absolute deviation), and by more than the threshold.
RECHECK_SPREAD_FACTOR = 3.0
_MODELS_DOC = "; ".join(f"{c}: {', '.join(repr(m) for m in ms)} (default {FOUNDATION_DEFAULT_MODEL[c]!r})"
                        for c, ms in FOUNDATION_MODELS.items())
_MODULE_CLASS = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def foundation_model_name(calculator: str, model: str | None) -> str:
    """The pretrained model of ``calculator`` = chgnet / sevenn (its default when ``model`` is None);
    ``ValueError`` naming the allowed models when the package does not ship ``model``."""
    name = model if model is not None else FOUNDATION_DEFAULT_MODEL[calculator]
    allowed = FOUNDATION_MODELS[calculator]
    if name not in allowed:
        raise ValueError(f"reference.model = {name!r} is not a {calculator} model shipped with the package; "
                         f"allowed: {', '.join(allowed)}")
    return name


def calculator_problems(calculator: str, model: str | None) -> list[str]:
    """Problems with a calculator / model choice that can be seen without running it: a model for
    a calculator without models, a built-in calculator whose Python package is not installed, an
    unknown model, a name that is neither built in nor ``package.module:Class``."""
    name = calculator
    if model is not None and name not in FOUNDATION_MODELS:
        return [f"reference.model applies to {' and '.join(FOUNDATION_MODELS)} only, not to calculator {name!r}"]
    if name in BUILTIN_CALCULATORS:
        mod = {"tblite": "tblite.ase", "gpaw": "gpaw", "chgnet": "chgnet", "sevenn": "sevenn"}.get(name)
        if mod:
            import importlib.util

            if importlib.util.find_spec(mod.split(".")[0]) is None:
                extra = " (pip install 'argyro-run[foundation]')" if name in FOUNDATION_MODELS else ""
                return [f"reference.calculator = {name!r} needs the Python package {mod.split('.')[0]!r}, "
                        f"which is not installed{extra}"]
        if name in FOUNDATION_MODELS:
            try:
                foundation_model_name(name, model)
            except ValueError as exc:
                return [str(exc)]
        return []
    if ":" not in name:
        return [f"reference.calculator = {name!r} is not allowed; use one of {', '.join(BUILTIN_CALCULATORS)} "
                f"or 'package.module:Class'"]
    return []


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
    recheck_energy_meV_per_atom: float = Field(
        RECHECK_ENERGY_MEV_PER_ATOM, ge=0, le=1e4,
        description="Guard against an SCF that converged to the wrong state: a converged whole-cell label whose "
                    "energy per atom lies above the learning potential's prediction by more than this, measured "
                    "from the potential's median error on the other labels of the same batch (with at least "
                    f"{RECHECK_MIN_OTHERS} of them) and beyond {RECHECK_SPREAD_FACTOR:g} robust standard deviations "
                    "of that error, is computed again with the "
                    "[reference.fallback] settings (e.g. diagonalisation instead of OT), and the lower energy is "
                    "kept when it is lower by more than this (a self-consistent solution above the ground state "
                    "can only be too high). 0: never. Needs fallback settings that change the calculation; not "
                    "for the pretrained potentials (no SCF).")

    @field_validator("calculator")
    @classmethod
    def _calc(cls, v: str) -> str:
        if v in BUILTIN_CALCULATORS or _MODULE_CLASS.match(v):
            return v
        raise ValueError(f"unknown calculator {v!r}; allowed: {', '.join(BUILTIN_CALCULATORS)} or 'package.module:Class'")

    @model_validator(mode="after")
    def _model(self):
        if self.calculator in FOUNDATION_MODELS or self.model is not None:
            problems = calculator_problems(self.calculator, self.model)
            if problems:
                raise ValueError("; ".join(problems))
            if self.model is None:  # recorded in the provenance's configuration as the model used
                self.model = FOUNDATION_DEFAULT_MODEL[self.calculator]
        fb = self.fallback
        if ("recheck_energy_meV_per_atom" in self.model_fields_set and self.recheck_energy_meV_per_atom > 0
                and self.calculator not in FOUNDATION_MODELS and not fb.kwargs and fb.electronic_temperature_K is None):
            raise ValueError("reference.recheck_energy_meV_per_atom recomputes a label with the [reference.fallback] "
                             "settings, and none are given: set reference.fallback.kwargs (e.g. another SCF "
                             "algorithm) or fallback.electronic_temperature_K, or remove the key")
        if self.calculator in FOUNDATION_MODELS:  # a value given is used or rejected, never ignored
            unused = [f"reference.{k}" for k in ("method", "electronic_temperature_K", "command", "recheck_energy_meV_per_atom")
                      if k in self.model_fields_set]
            if "electronic_temperature_K" in self.fallback.model_fields_set:
                unused.append("reference.fallback.electronic_temperature_K")
            if unused:
                verb = "does" if len(unused) == 1 else "do"
                raise ValueError(f"{', '.join(unused)} {verb} not apply to calculator = {self.calculator!r} (a pretrained "
                                 f"potential, chosen with reference.model); remove {'it' if len(unused) == 1 else 'them'}")
        return self
