import itertools
import math

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from argyro_run.errors import UserError
from argyro_run.structures import argyrodite
from argyro_run.structures.gb import csl_bicrystal, csl_rotation, translation_lattice
from tests._support.geometry import charge, distances, ps4_units

# (sigma, plane, axis): the study's three GBs, the quickstart's, the templates' mixed one, general ones
GBS = [
    (3, [1, -1, 2], [1, 1, 0]),
    (3, [-1, 1, 1], [1, 1, 0]),
    (5, [0, 0, 1], [0, 0, 1]),
    (5, [3, 1, 0], [0, 0, 1]),
    (3, [1, 1, 1], [1, 1, 0]),
    (7, [1, 1, 1], [1, 1, 1]),
    (13, [5, 1, 0], [0, 0, 1]),
    (9, [2, -2, 1], [1, 1, 0]),
    (5, [3, -1, 0], [0, 0, 1]),
    (11, [1, -1, 3], [1, 1, 0]),
]
IDS = [f"S{s}({''.join(map(str, p))})[{''.join(map(str, a))}]" for s, p, a in GBS]


@pytest.fixture(scope="module")
def bulk():
    return argyrodite("Cl")


@pytest.fixture(scope="module")
def bicrystals(bulk):
    keys = [(g[0], tuple(g[1]), tuple(g[2])) for g in GBS]
    return {gb: csl_bicrystal(bulk, sigma=gb[0], plane=gb[1], axis=gb[2]) for gb in keys}


def _key(gb):
    return (gb[0], tuple(gb[1]), tuple(gb[2]))


@pytest.mark.parametrize("axis,sigma,angle", [
    ([0, 0, 1], 5, 36.87), ([0, 0, 1], 13, 22.62), ([1, 1, 0], 3, 70.53), ([1, 1, 0], 9, 38.94),
    ([1, 1, 0], 11, 50.48), ([1, 1, 1], 3, 60.0), ([1, 1, 1], 7, 38.21), ([1, 0, 0], 17, 28.07)])
def test_csl_rotation_angles(axis, sigma, angle):
    R, theta = csl_rotation(axis, sigma)
    assert theta == pytest.approx(angle, abs=0.01)
    assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
    assert np.allclose(R @ np.array(axis, float), axis)
    # Sigma = 1 / (fraction of lattice sites that coincide), counted exactly over one period
    # of the CSL: the cube [0, Sigma a)^3 (Sigma R is an integer matrix, so Sigma a Z^3 is in the CSL)
    assert np.allclose(sigma * R, np.round(sigma * R), atol=1e-9)
    n = 2 * sigma  # in units of a/2: fcc points = integer vectors with even coordinate sum
    k = np.array(list(itertools.product(range(n), repeat=3)))
    pts = k[k.sum(axis=1) % 2 == 0]
    back = pts @ R  # R^T p
    integer = np.all(np.abs(back - np.round(back)) < 1e-6, axis=1)
    coincide = integer & (np.round(back).astype(int).sum(axis=1) % 2 == 0)
    assert len(pts) == 4 * sigma**3
    assert len(pts) == sigma * coincide.sum()


def test_no_csl_is_user_error(bulk):
    with pytest.raises(UserError, match=r"no Sigma5 CSL rotation about \[1 1 1\]"):
        csl_rotation([1, 1, 1], 5)
    with pytest.raises(UserError, match="odd"):
        csl_rotation([0, 0, 1], 4)
    with pytest.raises(UserError, match="cubic"):
        csl_bicrystal(bulk[:10].copy() if False else _sheared(bulk), sigma=5, plane=[3, 1, 0], axis=[0, 0, 1])


def _sheared(bulk):
    b = bulk.copy()
    b.set_cell(b.cell[:] + np.array([[0, 0.5, 0], [0, 0, 0], [0, 0, 0]]), scale_atoms=True)
    return b


@pytest.mark.parametrize("gb", GBS, ids=IDS)
def test_bicrystal_invariants(bicrystals, gb):
    at = bicrystals[_key(gb)]
    sym = np.array(at.get_chemical_symbols())
    # neutral, whole PS4 units
    assert charge(at) == 0
    units, multi, d = ps4_units(at)
    assert not multi
    for p, s in units:
        assert len(s) == 4
        assert d[p, s] == pytest.approx(2.05, abs=0.02)
    assert sum(len(s) for _, s in units) == 4 * np.sum(sym == "P")
    assert len(at) < 500
    # minimum distances: nothing closer than min_distance_A; anion units of different grains >= 2.8 A
    assert d.min() >= 1.8
    grain = at.arrays["grain_id"]
    uid = at.arrays["unit_id"]
    anion = sym != "Li"
    cross = (grain[:, None] != grain[None, :]) & (uid[:, None] != uid[None, :]) & anion[:, None] & anion[None, :]
    if cross.any():
        assert d[cross].min() >= 2.8
    # cell: a1 along x, a2 in xy, GB normal along z; two GB planes at z = 0 and z = h1
    cell = at.cell[:]
    assert cell[0, 1] == cell[0, 2] == cell[1, 2] == 0.0 and cell[2, 2] > 0 and cell[1, 1] > 0
    h1, period = at.info["grain_1_thickness_A"], cell[2, 2]
    assert at.info["gb_plane_1_z_A"] == 0.0 and at.info["gb_plane_2_z_A"] == pytest.approx(h1)
    assert period == pytest.approx(h1 + at.info["grain_2_thickness_A"])
    assert np.allclose(at.arrays["gb_normal"], [0, 0, 1])
    # grain membership: every unit reference (P of a PS4, single ions) lies in its grain's slab
    z = at.get_scaled_positions(wrap=True)[:, 2] * period
    ref = sym != "S"
    ref |= (sym == "S") & (np.bincount(uid)[uid] == 1)
    eps = 1e-6
    assert np.all((z[ref & (grain == 1)] < h1 + eps) | (z[ref & (grain == 1)] > period - eps))
    assert np.all((z[ref & (grain == 2)] > h1 - eps))
    # gb_distance = periodic distance along the normal to the nearest of the two planes
    expect = np.minimum(np.minimum(z, period - z), np.abs(z - h1))
    assert np.allclose(at.arrays["gb_distance_A"], expect, atol=1e-6)
    # the middles of both grains are far from both GBs
    for g, mid in ((1, 0.5 * h1), (2, h1 + 0.5 * (period - h1))):
        inside = grain == g
        assert at.arrays["gb_distance_A"][inside].max() > 0.35 * min(h1, period - h1)
        near_mid = np.abs(z[inside] - mid) < 1.0
        assert near_mid.any()
    # removed ions are a neutral set of whole units
    removed = at.info["gb_removed"]
    if removed != "none":
        n = dict(item.split(":") for item in removed.split(", "))
        q = sum(int(v) * {"Li": 1, "PS4": -3, "S": -2, "Cl": -1}[k] for k, v in n.items())
        assert q == 0


def _environments(atoms, idx, r=3.75):
    i, j, dd = neighbor_list("ijd", atoms, r)
    sym = np.array(atoms.get_chemical_symbols())
    env = {}
    for a in idx:
        m = i == a
        env[a] = (sym[a], tuple(sorted(zip(sym[j[m]], np.round(dd[m], 2)))))
    return env


@pytest.mark.parametrize("gb", GBS[:4], ids=IDS[:4])
def test_grain_interiors_are_bulk(bulk, gb):
    """Deep inside each grain every atom has exactly a bulk environment: the cell is
    commensurate with both grains (no seam at the periodic boundaries) and grains are rigid."""
    at = csl_bicrystal(bulk, sigma=gb[0], plane=gb[1], axis=gb[2], grain_thickness_cells=3)
    bulk_env = set(_environments(bulk, range(len(bulk))).values())
    # a removed PS4 reaches ~7 A from the GB plane; + the 3.75 A environment radius
    deep = np.flatnonzero(at.arrays["gb_distance_A"] > 11.0)
    assert len(deep) >= 10 and set(at.arrays["grain_id"][deep]) == {1, 2}
    env = _environments(at, deep)
    bad = [a for a in deep if env[a] not in bulk_env]
    assert not bad


def _tetra_rotations(v1, v2):
    """Proper rotations M with M v1[k] = v2[perm k] (Kabsch over vertex permutations)."""
    out = []
    for perm in itertools.permutations(range(4)):
        h = v1.T @ v2[list(perm)]
        u, _, vt = np.linalg.svd(h)
        m = vt.T @ u.T
        if np.linalg.det(m) > 0 and np.allclose(v1 @ m.T, v2[list(perm)], atol=1e-6):
            out.append(m)
    return out


def _ps4_directions(at, p, units):
    v = at.get_distances(p, units[p], mic=True, vector=True)
    return v / np.linalg.norm(v, axis=1)[:, None]


@pytest.mark.parametrize("gb", GBS, ids=IDS)
def test_misorientation_from_ps4_orientation(bicrystals, gb):
    at = bicrystals[_key(gb)]
    sym = np.array(at.get_chemical_symbols())
    p1 = [p for p in np.flatnonzero(sym == "P") if at.arrays["grain_id"][p] == 1]
    p2 = [p for p in np.flatnonzero(sym == "P") if at.arrays["grain_id"][p] == 2]
    units = dict(ps4_units(at)[0])
    ref1, ref2 = _ps4_directions(at, p1[0], units), _ps4_directions(at, p2[0], units)
    # every PS4 of a grain has the same orientation (rigid grains)
    for p in p1:
        assert _tetra_rotations(ref1, _ps4_directions(at, p, units))
    for p in p2:
        assert _tetra_rotations(ref2, _ps4_directions(at, p, units))
    # grain 2 = grain 1 rotated by the CSL rotation (up to the tetrahedron's own rotations T)
    measured = sorted(round(math.degrees(math.acos(np.clip((np.trace(m) - 1) / 2, -1, 1))), 3)
                      for m in _tetra_rotations(ref1, ref2))
    R, _ = csl_rotation(gb[2], gb[0])
    tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) / math.sqrt(3)
    expected = sorted(round(math.degrees(math.acos(np.clip((np.trace(m) - 1) / 2, -1, 1))), 3)
                      for m in _tetra_rotations(tet, tet @ R.T))
    assert len(measured) == 12 and measured == expected


def test_rigid_body_translations(bulk):
    kw = dict(sigma=5, plane=[3, 1, 0], axis=[0, 0, 1])
    cells = [csl_bicrystal(bulk, translation=t, **kw) for t in [(0, 0), (0.5, 0), (0, 0.5), (1.0, 0), (0, -1.0)]]
    for c in cells[1:]:
        assert np.allclose(c.cell[:], cells[0].cell[:])

    def fingerprint(at):
        f = at.get_scaled_positions(wrap=True)
        f = np.round(f, 5) % 1.0
        return sorted(zip(at.get_chemical_symbols(), map(tuple, f)))

    prints = [fingerprint(c) for c in cells]
    assert prints[0] != prints[1] and prints[0] != prints[2] and prints[1] != prints[2]
    # a full planar CSL vector is a lattice translation of grain 2: same structure
    assert prints[3] == prints[0] and prints[4] == prints[0]
    assert cells[1].info["gb_translation"] == "0.5 0"


def test_deterministic_and_quickstart_size(bulk):
    a = csl_bicrystal(bulk, sigma=5, plane=[3, 1, 0], axis=[0, 0, 1])
    b = csl_bicrystal(bulk, sigma=5, plane=[3, 1, 0], axis=[0, 0, 1])
    assert np.array_equal(a.positions, b.positions) and a.get_chemical_symbols() == b.get_chemical_symbols()
    assert 100 < len(a) < 400
    assert a.info["gb_lattice"] == "fcc"
    d_310 = 9.86 / np.sqrt(40)  # (620) lattice-plane spacing of the F lattice
    for cells, at in ((1, a), (2, csl_bicrystal(bulk, sigma=5, plane=[3, 1, 0], axis=[0, 0, 1], grain_thickness_cells=2))):
        for g in (1, 2):
            h = at.info[f"grain_{g}_thickness_A"]
            assert cells * 9.86 <= h < cells * 9.86 + d_310 + 1e-9
            assert h / d_310 == pytest.approx(round(h / d_310))


def test_simple_cubic_lattice_for_random_li_ordering():
    seeded = argyrodite("Cl", li_seed=2)
    assert np.allclose(translation_lattice(seeded), seeded.cell[:])
    at = csl_bicrystal(seeded, sigma=5, plane=[0, 0, 1], axis=[0, 0, 1])
    assert at.info["gb_lattice"] == "sc"
    assert charge(at) == 0 and distances(at).min() >= 1.8


@pytest.mark.parametrize("gb", GBS[:5], ids=IDS[:5])
def test_without_overlap_removal_each_grain_is_stoichiometric(bulk, gb):
    """Each grain slab is a fundamental domain of its lattice: with nothing removed the cell
    holds exactly volume / (a^3 / 4) formula units Li6PS5Cl (13 atoms each)."""
    at = csl_bicrystal(bulk, sigma=gb[0], plane=gb[1], axis=gb[2], min_distance_A=1e-3, min_anion_distance_A=1e-3)
    assert at.info["gb_removed"] == "none"
    n_fu = at.get_volume() / (9.86**3 / 4)
    assert n_fu == pytest.approx(round(n_fu), abs=1e-6)
    n_fu = round(n_fu)
    counts = {s: at.get_chemical_symbols().count(s) for s in ("Li", "P", "S", "Cl")}
    assert counts == {"Li": 6 * n_fu, "P": n_fu, "S": 5 * n_fu, "Cl": n_fu}
    for g in (1, 2):
        vol = at.info[f"grain_{g}_thickness_A"] * at.info["gb_area_A2"]
        assert np.sum((at.arrays["grain_id"] == g) & (np.array(at.get_chemical_symbols()) == "P")) == round(vol / (9.86**3 / 4))


def test_gap_opens_both_boundaries(bulk):
    kw = dict(sigma=5, plane=[3, 1, 0], axis=[0, 0, 1])
    closed = csl_bicrystal(bulk, **kw)
    wide = csl_bicrystal(bulk, gap_A=7.5, **kw)
    h1 = wide.info["grain_1_thickness_A"]
    assert wide.cell[2, 2] == pytest.approx(closed.cell[2, 2] + 15.0)
    assert wide.info["gb_plane_2_z_A"] == pytest.approx(h1 + 7.5)
    # the PS4 reach at most 2.05 A past a plane, so with 7.5 A nothing overlaps any more
    assert wide.info["gb_removed"] == "none" and charge(wide) == 0
    z = wide.get_scaled_positions(wrap=True)[:, 2] * wide.cell[2, 2]
    p = np.array(wide.get_chemical_symbols()) == "P"
    g1 = p & (wide.arrays["grain_id"] == 1)
    assert z[g1].min() >= 3.75 - 1e-6 and z[g1].max() <= h1 + 3.75 + 1e-6
    assert np.allclose(wide.arrays["gb_distance_A"],
                       np.minimum(np.minimum(z, wide.cell[2, 2] - z), np.abs(z - (h1 + 7.5))), atol=1e-6)
    with pytest.raises(UserError, match="gap_A"):
        csl_bicrystal(bulk, gap_A=-1.0, **kw)


@pytest.mark.parametrize("hkl,d_fcc,d_sc", [
    ((0, 0, 1), 1 / 2, 1.0), ((1, 1, 0), 1 / (2 * np.sqrt(2)), 1 / np.sqrt(2)), ((1, 1, 1), 1 / np.sqrt(3), 1 / np.sqrt(3)),
    ((3, 1, 0), 1 / np.sqrt(40), 1 / np.sqrt(10)), ((1, -1, 2), 1 / np.sqrt(24), 1 / np.sqrt(6)),
    ((7, -5, 3), 1 / np.sqrt(83), 1 / np.sqrt(83))])
def test_plane_lattice_spacings(hkl, d_fcc, d_sc):
    """Interplanar spacings of the F and P cubic lattices (reflection conditions of F:
    h, k, l all odd or all even, else the spacing of (2h 2k 2l))."""
    from argyro_run.structures.gb import _plane_lattice

    a = 10.0
    fcc = 0.5 * a * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], float)
    for basis, d_exp in ((fcc, d_fcc), (a * np.eye(3), d_sc)):
        (p1, p2), d, w = _plane_lattice(basis, np.array(hkl))
        n = np.array(hkl, float) / np.linalg.norm(hkl)
        assert d == pytest.approx(a * d_exp)
        assert abs(p1 @ n) < 1e-9 and abs(p2 @ n) < 1e-9 and w @ n == pytest.approx(d)
        assert np.linalg.norm(np.cross(p1, p2)) * d == pytest.approx(abs(np.linalg.det(basis)))
        assert abs(p1 @ p2) <= 0.5 * p1 @ p1 + 1e-9  # Gauss-reduced


@pytest.mark.parametrize("gb,plane2", [((5, [3, 1, 0], [0, 0, 1]), {3, 1, 0}), ((5, [3, -1, 0], [0, 0, 1]), {3, 1, 0}),
                                       ((3, [-1, 1, 1], [1, 1, 0]), {1}), ((3, [1, -1, 2], [1, 1, 0]), {1, 2}),
                                       ((5, [0, 0, 1], [0, 0, 1]), {0, 1}), ((11, [1, -1, 3], [1, 1, 0]), {1, 3})])
def test_symmetric_boundaries_have_the_same_plane_family_in_both_grains(bulk, gb, plane2):
    at = csl_bicrystal(bulk, sigma=gb[0], plane=gb[1], axis=gb[2])
    hkl2 = [int(x) for x in at.info["gb_plane_grain_2"].split()]
    assert sorted(map(abs, hkl2)) == sorted(map(abs, gb[1]))
    assert set(map(abs, hkl2)) == plane2
    assert hkl2 != list(gb[1]) or gb[1] == [0, 0, 1]  # a different member of the family (or the twist axis)
