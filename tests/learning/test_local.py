"""Local cut-outs: core neighbourhoods identical to the big cell, whole units, neutrality."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from argyro_run.learning.initial import rattled_and_strained
from argyro_run.learning.local import cut_out, molecular_units


def _env(atoms, i, rc):
    a, D = neighbor_list("iD", atoms, rc)
    v = D[a == i]
    return v[np.lexsort(np.round(v, 6).T)]


def ps4_crystal():
    """Li3PS4-like toy crystal: PS4 tetrahedra + Li on a cubic lattice, neutral (3 Li per PS4)."""
    cell = 6.0
    base = Atoms(cell=[cell] * 3, pbc=True)
    t = 2.05 / np.sqrt(3)
    base += Atoms("PS4", positions=[[0, 0, 0], [t, t, t], [-t, -t, t], [-t, t, -t], [t, -t, -t]])
    base += Atoms("Li3", positions=[[3, 3, 0.4], [3, 0.2, 3], [0.3, 3, 3]])
    base.wrap()
    return base * (4, 4, 4)


@pytest.mark.parametrize("mode", ["cluster", "periodic"])
def test_core_environments_are_exact_and_units_whole(mode):
    big = ps4_crystal()
    big.rattle(0.05, seed=3)
    rc = 4.0
    c = cut_out(big, center=5, radius_A=8.5, cutoff_A=rc, mode=mode)
    assert c.info["formal_charge"] == 0
    core = np.where(c.arrays["core"])[0]
    assert len(core) >= 1 and c.arrays["parent_index"][0] == 5
    for k in core:  # the MTP sees exactly the same neighbourhood
        np.testing.assert_allclose(_env(c, k, rc), _env(big, c.arrays["parent_index"][k], rc), atol=1e-8)
    # every P keeps its 4 S
    units = molecular_units(c)
    syms = np.array(c.get_chemical_symbols())
    for u in np.unique(units[syms == "P"]):
        assert sorted(syms[units == u]) == ["P", "S", "S", "S", "S"]
    assert len(c) < len(big) / 4


def test_rock_salt_cut_out_is_neutral():
    big = bulk("LiCl", "rocksalt", a=5.13, cubic=True) * (4, 4, 4)
    c = cut_out(big, center=0, radius_A=7.0, cutoff_A=4.5)
    syms = c.get_chemical_symbols()
    assert syms.count("Li") == syms.count("Cl")


def test_radius_must_exceed_cutoff():
    with pytest.raises(ValueError, match="must exceed"):
        cut_out(bulk("Li"), 0, radius_A=3.0, cutoff_A=5.0)


def test_rattled_copies_are_deterministic_and_strained():
    a = bulk("LiCl", "rocksalt", a=5.13, cubic=True)
    c1 = rattled_and_strained(a, 3, rattle_amplitude_A=0.05, strain_amplitude=0.03, seed=7, min_distance_A=1.5)
    c2 = rattled_and_strained(a, 3, rattle_amplitude_A=0.05, strain_amplitude=0.03, seed=7, min_distance_A=1.5)
    for x, y in zip(c1, c2):
        np.testing.assert_array_equal(x.positions, y.positions)
    vols = [x.get_volume() / a.get_volume() for x in c1]
    assert all(abs(v - 1) < 0.1 for v in vols) and len(set(np.round(vols, 6))) == 3
