"""Independent geometry checks shared by the structure tests."""

from __future__ import annotations

import numpy as np
from ase.geometry import get_distances

CHARGE = {"Li": 1, "P": 5, "S": -2, "Cl": -1, "Br": -1, "I": -1}


def charge(atoms) -> int:
    return sum(CHARGE[s] for s in atoms.get_chemical_symbols())


def distances(atoms) -> np.ndarray:
    _, d = get_distances(atoms.positions, cell=atoms.cell, pbc=True)
    np.fill_diagonal(d, np.inf)
    return d


def ps4_units(atoms, bond_A: float = 2.3):
    """(P index, its S indices within bond_A) for every P; and S bonded to >1 P."""
    sym = np.array(atoms.get_chemical_symbols())
    d = distances(atoms)
    p = np.flatnonzero(sym == "P")
    s = np.flatnonzero(sym == "S")
    units = [(i, s[d[i, s] < bond_A]) for i in p]
    multi = [j for j in s if np.sum(d[p, j] < bond_A) > 1]
    return units, multi, d
