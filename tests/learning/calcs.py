"""Tiny ASE calculators used to exercise the reference worker's failure handling.

They are real ASE calculators (a harmonic-free pair potential), importable by the worker
subprocess through PYTHONPATH.
"""

import time

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class PairCalc(Calculator):
    """E = sum_{i<j} (r_ij - 2)^2 (non-periodic); ``fail`` raises, ``sleep_s`` hangs first."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, fail=False, sleep_s=0.0, **kw):
        super().__init__(**kw)
        self.fail, self.sleep_s = fail, sleep_s

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
        self.results = {"energy": e, "forces": f}
