"""CSL bicrystals of cubic ionic crystals other than argyrodites (any mobile ion), and the clear
error for lattices the builder does not handle."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from argyro_run.errors import UserError
from argyro_run.structures.argyrodite import formal_charge, ion_units
from argyro_run.structures.gb import csl_bicrystal, translation_lattice
from argyro_run.structures.ions import FORMAL_CHARGE, cations, ion_charge

GBS = [(5, [3, 1, 0], [0, 0, 1]), (3, [1, 1, 1], [1, 1, 0]), (5, [0, 0, 1], [0, 0, 1])]


def li2s():
    return bulk("SLi2", "fluorite", a=5.7158, cubic=True)       # antifluorite, fcc


def nacl():
    return bulk("NaCl", "rocksalt", a=5.64, cubic=True)         # rock salt, fcc


def na3ps4_cubic(a=6.99):
    """A cubic (I-43m) Na3PS4-type cell: P on 2a, S on 8c (x, x, x) with P-S = 2.05 A, Na on 6b.
    Geometry for the builder only (an I-centred, body-centred cubic translation lattice)."""
    x = 2.05 / (np.sqrt(3) * a)
    p = [[0, 0, 0], [0.5, 0.5, 0.5]]
    s = []
    for c in p:
        for sg in ([1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]):
            s.append(np.mod(np.array(c) + x * np.array(sg), 1.0))
    na = [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]]
    return Atoms(["P"] * 2 + ["S"] * 8 + ["Na"] * 6, scaled_positions=np.vstack([p, s, na]),
                 cell=np.eye(3) * a, pbc=True)


@pytest.mark.parametrize("make,mobile", [(li2s, "Li"), (nacl, "Na"), (na3ps4_cubic, "Na")])
@pytest.mark.parametrize("gb", GBS, ids=[f"S{s}({''.join(map(str, p))})" for s, p, _ in GBS])
def test_bicrystal_of_any_cubic_ionic_crystal(make, mobile, gb):
    cell = make()
    at = csl_bicrystal(cell, sigma=gb[0], plane=gb[1], axis=gb[2], grain_thickness_cells=2, mobile_ion=mobile)
    sym = np.array(at.get_chemical_symbols())
    bulk_counts = {e: cell.get_chemical_symbols().count(e) for e in set(cell.get_chemical_symbols())}
    assert formal_charge(at) == 0
    # whole molecular ions only: every P keeps its four S at 2.05 A
    uid = ion_units(at)
    for u in np.unique(uid[sym == "P"]):
        members = sym[uid == u]
        assert sorted(members) == ["P", "S", "S", "S", "S"]
    # nothing closer than min_distance_A between different ions
    i, j, d = neighbor_list("ijd", at, 1.8)
    assert np.all(uid[i] == uid[j]), d[uid[i] != uid[j]]
    # the removed ions are a neutral set of whole units, the mobile ion first among cations
    removed = at.info["gb_removed"]
    if removed != "none":
        n = dict(item.split(":") for item in removed.split(", "))
        q = {"PS4": -3, **FORMAL_CHARGE}
        assert sum(int(v) * q[k] for k, v in n.items()) == 0
        assert not (set(n) & (set(cations()) - {mobile}))
    # composition: the bulk's minus removed neutral units, i.e. still charge balanced, grains filled
    assert set(sym) == set(bulk_counts)
    assert at.info["gb_lattice"] == ("fcc" if make in (li2s, nacl) else "bcc")


def test_lattices_the_builder_does_not_handle():
    tet = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    tet.set_cell(np.diag([5.64, 5.64, 6.0]), scale_atoms=True)
    with pytest.raises(UserError, match=r"cubic cells only.*5\.64, 5\.64, 6 A, angles 90, 90, 90"):
        translation_lattice(tet)
    with pytest.raises(UserError, match="cubic cells only"):
        csl_bicrystal(tet, sigma=5, plane=[3, 1, 0], axis=[0, 0, 1], mobile_ion="Na")
    prim = bulk("NaCl", "rocksalt", a=5.64)  # fcc primitive cell: angles 60 deg
    with pytest.raises(UserError, match="angles 60, 60, 60"):
        translation_lattice(prim)


@pytest.mark.parametrize("hkl", [(0, 0, 1), (1, 1, 0), (1, 1, 1), (3, 1, 0), (1, -1, 2), (7, -5, 3)])
def test_bcc_plane_spacings(hkl):
    """I lattice: planes (hkl) (coprime) are a / sqrt(N) apart when h + k + l is even, half that
    when odd (reflection condition h + k + l even), N = h^2 + k^2 + l^2."""
    from argyro_run.structures.gb import _plane_lattice

    a = 7.0
    basis = translation_lattice(na3ps4_cubic(a))
    assert np.allclose(basis, 0.5 * a * np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]]))
    (p1, p2), d, w = _plane_lattice(basis, np.array(hkl))
    n2 = sum(h * h for h in hkl)
    assert d == pytest.approx(a / np.sqrt(n2) * (1.0 if sum(hkl) % 2 == 0 else 0.5))
    assert np.linalg.norm(np.cross(p1, p2)) * d == pytest.approx(abs(np.linalg.det(basis)))


def test_molecular_anions_other_than_ps4():
    """GeS4^4- (and SiO4^4-) units are recognised as one ion like PS4^3-."""
    a = 10.0
    ge = np.array([5.0, 5.0, 5.0])
    tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3) * 2.2
    at = Atoms(["Ge", "S", "S", "S", "S", "Li", "Li", "Li", "Li"],
               positions=np.vstack([ge, ge + tet, [[1, 1, 1], [1, 9, 9], [9, 1, 9], [9, 9, 1]]]),
               cell=np.eye(3) * a, pbc=True)
    uid = ion_units(at)
    assert len(set(uid[:5])) == 1 and len(set(uid)) == 5
    assert formal_charge(at) == 0 and ion_charge("Ge") == 4


def test_charge_table():
    assert ion_charge("Na") == 1 and ion_charge("Cl") == -1 and ion_charge("S") == -2
    assert {"Li", "Na", "K", "Ag", "Cu"} <= set(cations()) and "P" not in cations()
    with pytest.raises(KeyError, match="no formal charge"):
        ion_charge("Fe")
