"""Tiny ASE calculators used to exercise the reference worker's failure handling.

They are real ASE calculators (a harmonic-free pair potential), importable by the worker
subprocess through PYTHONPATH.
"""

import time

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class PairCalc(Calculator):
    """E = sum_{i<j} (r_ij - 2)^2 (non-periodic); ``fail`` raises, ``sleep_s`` hangs first.

    ``stuck_eV`` stands in for an SCF that reports convergence in a state above the ground state:
    on structures whose largest interatomic distance exceeds ``stuck_beyond_A`` the energy comes out
    ``stuck_eV`` too high (and the forces are those of the ground state)."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, fail=False, sleep_s=0.0, stuck_eV=0.0, stuck_beyond_A=float("inf"), **kw):
        super().__init__(**kw)
        self.fail, self.sleep_s = fail, sleep_s
        self.stuck_eV, self.stuck_beyond_A = stuck_eV, stuck_beyond_A

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.fail:
            raise RuntimeError("SCF did not converge (simulated)")
        x = self.atoms.positions
        e, f = 0.0, np.zeros_like(x)
        for i in range(len(x)):
            for j in range(i + 1, len(x)):
                d = x[i] - x[j]
                r = np.linalg.norm(d)
                e += (r - 2.0) ** 2
                g = 2 * (r - 2.0) * d / r
                f[i] -= g
                f[j] += g
        if len(x) > 1 and np.max(np.linalg.norm(x[:, None] - x[None], axis=-1)) > self.stuck_beyond_A:
            e += self.stuck_eV
        self.results = {"energy": e, "forces": f}
