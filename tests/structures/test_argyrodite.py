import numpy as np
import pytest
import spglib

from argyro_run.errors import UserError
from argyro_run.structures import LATTICE_CONSTANTS_A, argyrodite
from argyro_run.structures.argyrodite import LI48H_XZ, S16E_X, _li_pairs, _orbit
from argyro_run.structures.gb import translation_lattice
from tests._support.geometry import charge, distances, ps4_units

HALIDES = ["Cl", "Br", "I"]


@pytest.mark.parametrize("halide", HALIDES)
def test_composition_charge_and_cell(halide):
    at = argyrodite(halide)
    assert len(at) == 52
    counts = {s: at.get_chemical_symbols().count(s) for s in set(at.get_chemical_symbols())}
    assert counts == {"Li": 24, "P": 4, "S": 20, halide: 4}
    assert charge(at) == 0
    assert np.allclose(at.cell[:], np.eye(3) * LATTICE_CONSTANTS_A[halide])
    # 24 Li + 4 PS4 + 4 X + 4 S2- units
    assert len(set(at.arrays["unit_id"])) == 36


def test_literature_lattice_constants_and_scaling():
    assert LATTICE_CONSTANTS_A == pytest.approx({"Cl": 9.86, "Br": 9.99, "I": 10.14}, abs=0.01)
    a, b = argyrodite("Cl"), argyrodite("Cl", lattice_constant_A=10.5)
    assert np.allclose(b.get_scaled_positions(), a.get_scaled_positions())
    assert np.allclose(b.positions, a.positions * 10.5 / 9.86)


@pytest.mark.parametrize("halide", HALIDES)
@pytest.mark.parametrize("li_seed", [None, 0, 1, 7])
def test_minimum_distances(halide, li_seed):
    at = argyrodite(halide, li_seed=li_seed)
    d = distances(at)
    li = np.array(at.get_chemical_symbols()) == "Li"
    assert d[np.ix_(li, li)].min() > 1.8
    assert d.min() > 1.5


@pytest.mark.parametrize("halide", HALIDES)
def test_ps4_tetrahedra(halide):
    at = argyrodite(halide)
    units, multi, d = ps4_units(at)
    assert not multi
    sym = np.array(at.get_chemical_symbols())
    assert sum(len(s) for _, s in units) == 16  # the 16e S; the 4 free S2- are not bonded
    for p, s in units:
        assert len(s) == 4
        assert d[p, s] == pytest.approx(2.05, abs=0.02)
        v = at.get_distances(p, s, mic=True, vector=True)
        cosines = [v[i] @ v[j] / np.linalg.norm(v[i]) / np.linalg.norm(v[j]) for i in range(4) for j in range(i)]
        assert np.allclose(cosines, -1 / 3, atol=1e-6)  # regular tetrahedron
        assert len(set(at.arrays["unit_id"][[p, *s]])) == 1
    free = np.flatnonzero((sym == "S") & (np.bincount(at.arrays["unit_id"])[at.arrays["unit_id"]] == 1))
    assert len(free) == 4


@pytest.mark.parametrize("halide", HALIDES)
def test_space_group_of_anion_framework(halide):
    at = argyrodite(halide)
    frame = np.array(at.get_chemical_symbols()) != "Li"
    cell = (at.cell[:], at.get_scaled_positions()[frame], at.numbers[frame])
    assert spglib.get_symmetry_dataset(cell, symprec=1e-3).number == 216
    # all 48h sites (half occupied) restore the full F-43m description too
    x, z = LI48H_XZ[halide]
    li48 = _orbit(np.array([[x, x, z]]))
    full = (at.cell[:], np.vstack([cell[1], li48]), np.concatenate([cell[2], np.full(48, 3)]))
    assert spglib.get_symmetry_dataset(full, symprec=1e-3).number == 216


def test_space_groups_report():
    from argyro_run.structures.argyrodite import space_groups
    from argyro_run.structures.disorder import site_exchange
    from argyro_run.structures.files import make_supercell

    assert space_groups(argyrodite("I")) == {"framework": "F-43m (216)", "with_li": "P1 (1)"}
    mixed = site_exchange(make_supercell(argyrodite("Cl"), (2, 2, 2)), 0.5, seed=0)
    assert space_groups(mixed)["framework"] != "F-43m (216)"  # exchange breaks the framework symmetry
    assert space_groups(make_supercell(argyrodite("Cl"), (2, 2, 2)))["framework"] == "F-43m (216)"


def test_li_ordering_symmetry_reported():
    """With one Li per pair the symmetry drops; the default keeps the F-centring (so GB
    cells can use the fcc lattice), seeded orderings in general do not."""
    at = argyrodite("Cl")
    sg = spglib.get_symmetry_dataset((at.cell[:], at.get_scaled_positions(), at.numbers), symprec=1e-3)
    assert sg.number < 216  # ordering of Li breaks -43m
    prim = spglib.find_primitive((at.cell[:], at.get_scaled_positions(), at.numbers), symprec=1e-3)
    assert len(prim[2]) == 13  # F-centred: 13-atom primitive cell
    assert not np.allclose(translation_lattice(at), at.cell[:])


@pytest.mark.parametrize("li_seed", [None, 3])
def test_one_li_per_48h_pair(li_seed):
    at = argyrodite("Br", li_seed=li_seed)
    x, z = LI48H_XZ["Br"]
    sites = _orbit(np.array([[x, x, z]]))
    pairs = _li_pairs(sites, at.cell[:])
    li_frac = at.get_scaled_positions()[np.array(at.get_chemical_symbols()) == "Li"]
    diff = li_frac[:, None, :] - sites[None, :, :]
    diff -= np.round(diff)
    match = np.argmin(np.linalg.norm(diff, axis=-1), axis=1)
    assert np.abs(diff[np.arange(24), match]).max() < 1e-9
    occupied = set(match.tolist())
    assert all(len(occupied & {a, b}) == 1 for a, b in pairs)


def test_li_seed_determinism():
    a, b, c = argyrodite("Cl", li_seed=5), argyrodite("Cl", li_seed=5), argyrodite("Cl", li_seed=6)
    assert np.array_equal(a.positions, b.positions)
    assert not np.allclose(a.positions, c.positions)
    assert np.array_equal(argyrodite("I").positions, argyrodite("I").positions)


def test_wyckoff_parameters_give_literature_ps_distance():
    for h in HALIDES:
        d = np.sqrt(3) * (S16E_X[h] - 0.5) * LATTICE_CONSTANTS_A[h]
        assert d == pytest.approx(2.05, abs=0.015)


def test_unknown_halide_is_user_error():
    with pytest.raises(UserError, match="allowed: Cl, Br, I"):
        argyrodite("F")
