"""ASE calculator of an MTP: energies, forces, stress and per-atom energies from
:func:`argyro_run.potentials.evaluate.evaluate`, optionally per-atom extrapolation grades
(:func:`argyro_run.potentials.grades.grade`)."""

from __future__ import annotations

from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from argyro_run.potentials.evaluate import evaluate
from argyro_run.potentials.grades import grade, load_active_set
from argyro_run.potentials.mtp import read_mtp


class MTPCalculator(Calculator):
    """ASE calculator for an MTP (``mtp``: an :class:`~argyro_run.potentials.mtp.MTP` or a path).

    With ``active_set`` (a :class:`~argyro_run.potentials.maxvol.ActiveSet` or an active-set file)
    the per-atom extrapolation grades are also computed: ``results["grades"]`` (n,) and
    ``results["max_grade"]``.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energies"]

    def __init__(self, mtp, active_set=None, **kwargs):
        super().__init__(**kwargs)
        if not hasattr(mtp, "radial_coeffs"):
            mtp = read_mtp(mtp)
        self.mtp = mtp
        if active_set is not None and not hasattr(active_set, "inverse"):
            active_set = load_active_set(active_set)
        self.active_set = active_set

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        r = evaluate(self.mtp, self.atoms)
        self.results["energy"] = self.results["free_energy"] = r["energy_eV"]
        self.results["forces"] = r["forces_eV_per_A"]
        self.results["energies"] = r["energies_eV"]
        if r["stress_eV_per_A3"] is not None:
            self.results["stress"] = r["stress_eV_per_A3"]
        elif "stress" in properties:
            raise PropertyNotImplementedError("stress needs a cell periodic in all three directions")
        if self.active_set is not None:
            gamma, per_atom = grade(self.mtp, self.active_set, self.atoms)
            self.results["grades"] = per_atom
            self.results["max_grade"] = gamma
