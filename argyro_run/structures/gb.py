"""Coincidence-site-lattice (CSL) grain-boundary bicrystals of cubic crystals.

Construction (``docs/structures.md`` has the full description):

1. :func:`csl_rotation` finds the rotation about ``axis`` with the requested Sigma
   (Ranganathan: theta = 2 atan(n sqrt(N) / m), Sigma = m^2 + N n^2 with factors of 2
   removed, N = u^2 + v^2 + w^2; the smallest such angle is used).
2. The translation lattice L of the bulk cell is detected (F-centred if the structure is
   invariant under the face-centring translations, I-centred if under (1/2, 1/2, 1/2), else
   simple cubic). Grain 1 is the bulk
   crystal, grain 2 the bulk rotated by R (plus the rigid-body translation). The 2D cell of
   the GB plane is the primitive cell of the planar CSL, L ∩ R L ∩ plane (vectors a1, a2).
3. Grain 1 fills the slab spanned by (a1, a2, n1 w1), w1 the lattice vector of L with the
   smallest positive component along the plane normal; grain 2 the slab (a1, a2, n2 w2)
   above it with w2 from R L. The periodic cell is (a1, a2, n1 w1 + n2 w2); it holds two
   equivalent GBs (z = 0 and z = n1 d1). Each slab is a fundamental domain of its grain's
   lattice, so each grain is exactly stoichiometric; ions are assigned as whole units (a
   PS4 by its P), so no PS4 is ever cut.
4. Pairs of atoms from different grains closer than ``min_distance_A`` (any pair), or anion
   units closer than ``min_anion_distance_A``, are resolved by deleting whole ions/units
   (the mobile ion, Li+ by default, before anything else; then by the size of the charge,
   e.g. X-, then S2-, then PS4^3-; ties: the grain-2 one). The charge this leaves is then
   cancelled by deleting mobile ions (if anion charge was removed) or the single-atom
   anion of smallest charge, X- before S2- (if cations were removed; in a structure
   without single anions the smallest molecular anion), most crowded first among those
   within ``gb_region_A`` of a GB. For an argyrodite the removed set is therefore a neutral
   combination of Li+X-, 2Li+S2-, 3Li+PS4^3- units.

The cell is written with a1 along x, a2 in the xy plane and the GB normal along +z (LAMMPS'
lower-triangular convention). Per-atom arrays: ``grain_id`` (1, 2), ``gb_distance_A``
(distance along z to the nearest GB plane, periodic), ``gb_normal`` (unit normal, lab
frame), plus ``sublattice`` and ``unit_id`` carried from the bulk.
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
from ase import Atoms

from argyro_run.errors import UserError
from argyro_run.structures.argyrodite import ion_units
from argyro_run.structures.ions import FORMAL_CHARGE

log = logging.getLogger(__name__)

_EPS = 1e-8


# ---------------------------------------------------------------------------- rotations
def _rotation_matrix(axis: np.ndarray, theta: float) -> np.ndarray:
    u = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    return np.eye(3) + math.sin(theta) * k + (1 - math.cos(theta)) * (k @ k)


def _odd_part(n: int) -> int:
    while n > 0 and n % 2 == 0:
        n //= 2
    return n


def csl_rotation(axis, sigma: int) -> tuple[np.ndarray, float]:
    """Rotation (3x3, crystal frame) about ``axis`` = [u, v, w] generating a cubic CSL of the
    given odd ``sigma``, and its angle in degrees (the smallest angle in (0, 180)).
    Raises :class:`UserError` if no such rotation exists about that axis."""
    ax = np.asarray(axis, dtype=int)
    if ax.shape != (3,) or not np.any(ax):
        raise UserError(f"axis: must be 3 integers, not all zero; found {list(np.ravel(axis))}")
    g = math.gcd(math.gcd(int(abs(ax[0])), int(abs(ax[1]))), int(abs(ax[2])))
    ax = ax // g
    N = int(ax @ ax)
    sigma = int(sigma)
    if sigma < 1 or sigma % 2 == 0:
        raise UserError(f"sigma: must be an odd positive integer, found {sigma}")
    best = None
    n_max = int(math.isqrt(4 * sigma // max(N, 1))) + 2
    m_max = int(math.isqrt(4 * sigma)) + 2
    for n in range(1, n_max + 1):
        for m in range(0, m_max + 1):
            if math.gcd(m, n) != 1:
                continue
            if _odd_part(m * m + N * n * n) != sigma:
                continue
            theta = 2.0 * math.atan2(n * math.sqrt(N), m)
            if theta > math.pi:
                theta = 2 * math.pi - theta
            if theta < 1e-9 or theta > math.pi - 1e-9:
                continue
            if best is None or theta < best - 1e-12:
                best = theta
    if best is None:
        found = sorted({_odd_part(m * m + N * n * n) for n in range(1, 6) for m in range(0, 8) if math.gcd(m, n) == 1} - {1})
        raise UserError(f"sigma: no Sigma{sigma} CSL rotation about [{ax[0]} {ax[1]} {ax[2]}]; "
                        f"Sigma values about this axis include {found[:10]}")
    return _rotation_matrix(ax, best), math.degrees(best)


# ---------------------------------------------------------------------------- lattices
def translation_lattice(bulk: Atoms) -> np.ndarray:
    """Primitive translation vectors (rows, Angstrom) of a cubic ``bulk`` cell: the
    F-centred vectors if the structure (species included) is invariant under the
    face-centring translations, the I-centred ones if it is invariant under (1/2, 1/2, 1/2),
    else the cell vectors. Other lattices (tetragonal, orthorhombic, hexagonal, ...) raise a
    :class:`UserError`: the CSL construction here is the one of cubic crystals."""
    return _lattice(bulk)[1]


def _lattice(bulk: Atoms) -> tuple[str, np.ndarray]:
    """("fcc" | "bcc" | "sc", primitive translation vectors) of a cubic ``bulk`` cell."""
    cell = np.asarray(bulk.cell[:])
    L = float(np.linalg.norm(cell[0]))
    if not np.allclose(cell, np.eye(3) * L, atol=1e-6):
        a, b, c, al, be, ga = bulk.cell.cellpar()
        raise UserError("grain_boundaries: the CSL builder handles cubic cells only (a = b = c, right angles, "
                        f"axes along x, y, z: the conventional cubic cell); got a, b, c = {a:.4g}, {b:.4g}, {c:.4g} A, "
                        f"angles {al:.4g}, {be:.4g}, {ga:.4g} deg")
    frac = bulk.get_scaled_positions(wrap=True)
    num = bulk.numbers

    def invariant(t) -> bool:
        moved = np.mod(frac + np.array(t), 1.0)
        d = moved[:, None, :] - frac[None, :, :]
        d -= np.round(d)
        dist = np.linalg.norm(d * L, axis=-1)
        j = np.argmin(dist, axis=1)
        return bool(np.all(dist[np.arange(len(frac)), j] < 1e-3) and np.all(num[j] == num))

    if all(invariant(t) for t in ([0, .5, .5], [.5, 0, .5], [.5, .5, 0])):
        return "fcc", 0.5 * L * np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    if invariant([.5, .5, .5]):
        return "bcc", 0.5 * L * np.array([[-1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
    return "sc", cell.copy()


def _in_lattice(vecs: np.ndarray, basis_rows: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    coef = np.linalg.solve(basis_rows.T, np.atleast_2d(vecs).T).T
    return np.all(np.abs(coef - np.round(coef)) < tol, axis=1)


def _reduced_2d_basis(vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Primitive, Gauss-reduced basis of the 2D lattice generated by ``vecs`` (rows, 3D)."""
    lens = np.linalg.norm(vecs, axis=1)
    nz = lens > 1e-9
    vecs, lens = vecs[nz], lens[nz]
    order = np.lexsort((np.round(vecs, 6)[:, ::-1].T.tolist() + [np.round(lens, 6)]))
    vecs, lens = vecs[order], lens[order]
    a1 = vecs[0]
    cross = np.linalg.norm(np.cross(a1, vecs), axis=1)
    ok = cross > 1e-6
    amin = cross[ok].min()
    cand = vecs[ok & (cross < amin + 1e-6)]
    return _gauss(a1, cand[np.argmin(np.linalg.norm(cand, axis=1))])


def _ext_gcd(a: int, b: int) -> tuple[int, int, int]:
    """(g, x, y) with a x + b y = g = gcd(a, b) >= 0."""
    x0, y0, x1, y1 = 1, 0, 0, 1
    while b:
        q, a, b = a // b, b, a % b
        x0, x1 = x1, x0 - q * x1
        y0, y1 = y1, y0 - q * y1
    return (a, x0, y0) if a >= 0 else (-a, -x0, -y0)


def _gauss(p1: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss (Lagrange) reduction of a 2D lattice basis."""
    for _ in range(200):
        if np.linalg.norm(p2) < np.linalg.norm(p1) - 1e-9:
            p1, p2 = p2, p1
        mu = round(float(p2 @ p1) / float(p1 @ p1))
        if mu == 0:
            break
        p2 = p2 - mu * p1
    return p1, p2


def _plane_lattice(basis: np.ndarray, n_int: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """For the lattice with primitive vectors ``basis`` (rows) and the plane with integer
    normal direction ``n_int`` (Cartesian, cubic crystal): the reduced 2D basis of the lattice
    vectors in the plane, the lattice-plane spacing d (smallest positive height of a lattice
    vector) and a lattice vector w of height d (in-plane part reduced). Exact integer
    arithmetic: lattice vectors k @ basis with k in Z^3 lie in the plane iff k . m = 0,
    m = B n (B = basis in units of a/2), and k . m = 1 gives the step to the next plane."""
    unit = np.abs(basis[basis != 0]).min()
    B = np.round(basis / unit).astype(int)
    if not np.allclose(B * unit, basis):
        raise RuntimeError("lattice basis is not an integer multiple of one length")
    m = B @ np.asarray(n_int, dtype=int)
    g = math.gcd(math.gcd(abs(int(m[0])), abs(int(m[1]))), abs(int(m[2])))
    m = m // g
    m1, m2, m3 = (int(x) for x in m)
    g12, x, y = _ext_gcd(m1, m2)
    if g12 == 0:  # m = (0, 0, +-1)
        k1, k2, kw = np.array([1, 0, 0]), np.array([0, 1, 0]), np.array([0, 0, m3])
    else:
        k1 = np.array([m2 // g12, -m1 // g12, 0])
        k2 = np.array([m3 * x, m3 * y, -g12])
        _, a, b = _ext_gcd(g12, m3)  # a g12 + b m3 = 1
        kw = np.array([a * x, a * y, b])
    assert k1 @ m == 0 and k2 @ m == 0 and kw @ m == 1
    normal = np.asarray(n_int, float) / np.linalg.norm(n_int)
    p1, p2 = _gauss(k1 @ basis, k2 @ basis)
    w = kw @ basis
    d = float(w @ normal)
    if d < 0:
        w, d = -w, -d
    # area x spacing = primitive-cell volume: (p1, p2) is a basis, not a sublattice
    assert abs(np.linalg.norm(np.cross(p1, p2)) * d - abs(np.linalg.det(basis))) < 1e-6 * abs(np.linalg.det(basis))
    return np.array([p1, p2]), d, _reduce_inplane(w, p1, p2, normal)


def _integer_direction(v: np.ndarray, sigma: int) -> np.ndarray:
    """Smallest integer vector parallel to ``v`` (``v`` rational with denominator dividing
    4 sigma, as for cubic CSL rotations of integer vectors)."""
    for k in range(1, 4 * sigma + 1):
        w = v * k
        if np.allclose(w, np.round(w), atol=1e-6):
            w = np.round(w).astype(int)
            g = math.gcd(math.gcd(abs(int(w[0])), abs(int(w[1]))), abs(int(w[2])))
            return w // max(g, 1)
    raise RuntimeError(f"direction {v} is not rational with denominator <= {4 * sigma}")


def _reduce_inplane(w: np.ndarray, p1: np.ndarray, p2: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """``w`` plus the integer combination of p1, p2 that makes its in-plane part shortest."""
    par = w - (w @ normal) * normal
    m = np.array([p1, p2])
    c = np.linalg.lstsq(m.T, par, rcond=None)[0]
    best, best_len = None, np.inf
    for i in (math.floor(c[0]), math.ceil(c[0])):
        for j in (math.floor(c[1]), math.ceil(c[1])):
            cand = w - i * p1 - j * p2
            ln = np.linalg.norm(cand - (cand @ normal) * normal)
            if ln < best_len - 1e-9:
                best, best_len = cand, ln
    return best


# ---------------------------------------------------------------------------- filling
def _units(bulk: Atoms):
    """(reference positions (n_u, 3), member atom indices per unit, offsets per atom)."""
    uid = bulk.arrays["unit_id"] if "unit_id" in bulk.arrays else ion_units(bulk)
    sym = np.array(bulk.get_chemical_symbols())
    refs, members = [], []
    offsets = np.zeros((len(bulk), 3))
    cell = np.asarray(bulk.cell[:])
    for u in np.unique(uid):
        idx = np.flatnonzero(uid == u)
        # a molecular ion is placed by its centre (P of PS4, ...): the atom of largest formal charge
        ref_i = int(idx[np.argmax([FORMAL_CHARGE[x] for x in sym[idx]])]) if len(idx) > 1 else int(idx[0])
        ref = bulk.positions[ref_i]
        d = bulk.positions[idx] - ref
        d -= np.round(d @ np.linalg.inv(cell)) @ cell
        offsets[idx] = d
        refs.append(ref)
        members.append(idx)
    return np.array(refs), members, offsets


def _fill(bulk: Atoms, units, rot: np.ndarray, shift: np.ndarray, origin: np.ndarray,
          box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Atoms of the crystal ``rot @ bulk + shift`` whose unit reference lies in the
    parallelepiped ``origin + s @ box``, s in [0, 1)^3. Returns (positions, bulk index,
    tile index)."""
    refs, members, offsets = units
    L = float(bulk.cell[0, 0])
    corners = np.array(list(itertools.product((0, 1), repeat=3)), float) @ box + origin
    back = (corners - shift) @ rot  # rot^T (x - shift) as rows
    lo = np.floor(back.min(axis=0) / L) - 1
    hi = np.ceil(back.max(axis=0) / L) + 1
    grid = np.array(list(itertools.product(*[np.arange(lo[i], hi[i] + 1) for i in range(3)]))) * L
    all_refs = (refs[None, :, :] + grid[:, None, :]).reshape(-1, 3)
    all_refs = all_refs @ rot.T + shift
    s = np.linalg.solve(box.T, (all_refs - origin).T).T
    inside = np.all(np.floor(s + _EPS) == 0, axis=1)
    pos, src, tile = [], [], []
    n_u = len(refs)
    for flat in np.flatnonzero(inside):
        g, u = divmod(flat, n_u)
        idx = members[u]
        pos.append(all_refs[flat] + offsets[idx] @ rot.T)
        src.append(idx)
        tile.append(np.full(len(idx), flat))
    if not pos:
        return np.zeros((0, 3)), np.zeros(0, int), np.zeros(0, int)
    return np.vstack(pos), np.concatenate(src), np.concatenate(tile)


# ---------------------------------------------------------------------------- main
def csl_bicrystal(bulk: Atoms, *, sigma: int, plane, axis, translation=(0.0, 0.0),
                  min_distance_A: float = 1.8, min_anion_distance_A: float = 2.8,
                  grain_thickness_cells: float = 1.0, gap_A: float = 0.0, gb_region_A: float = 4.0,
                  mobile_ion: str = "Li") -> Atoms:
    """Periodic bicrystal with two Sigma``sigma`` grain boundaries (module docstring).

    ``bulk``: cubic conventional cell (with ``unit_id``; computed if absent). ``plane``: GB
    plane Miller indices in grain 1's crystal frame; ``axis``: rotation axis (crystal frame);
    ``translation``: rigid-body shift of grain 2 in fractions of the planar CSL vectors (a1,
    a2); ``grain_thickness_cells``: each grain at least this many lattice constants thick
    (rounded up to whole lattice-plane steps along the normal); ``gap_A``: extra spacing
    along the normal added at each of the two GBs (the cell grows by 2 gap_A; the GB planes
    stay in the middle of the gaps, at z = 0 and z = h1 + gap_A). ``mobile_ion``: the cation
    removed first at overlaps and to restore neutrality (Li for argyrodites).
    """
    n_int = np.asarray(plane, dtype=float)
    if n_int.shape != (3,) or not np.any(n_int):
        raise UserError(f"plane: must be 3 integers, not all zero; found {list(np.ravel(plane))}")
    if not grain_thickness_cells > 0:
        raise UserError(f"grain_thickness_cells: must be positive, found {grain_thickness_cells}")
    normal = n_int / np.linalg.norm(n_int)
    R, theta = csl_rotation(axis, sigma)
    # +theta or -theta: the sign whose grain-2 plane indices are smallest (a symmetric tilt
    # GB such as (310)/(3-10) when it exists), which also keeps the cell smallest
    R_neg = R.T
    if np.abs(_integer_direction(R_neg.T @ n_int, int(sigma))).max() < np.abs(_integer_direction(R.T @ n_int, int(sigma))).max():
        R, theta = R_neg, -theta
    lattice_kind, basis = _lattice(bulk)
    a_const = float(bulk.cell[0, 0])
    if not np.allclose(n_int, np.round(n_int)):
        raise UserError(f"plane: Miller indices must be integers, found {list(np.ravel(plane))}")
    n_int = np.round(n_int).astype(int)
    pb1, d1, w1 = _plane_lattice(basis, n_int)
    n2_int = _integer_direction(R.T @ n_int, int(sigma))  # the plane in grain 2's crystal frame
    _, d2, w2c = _plane_lattice(basis, n2_int)
    w2 = R @ w2c

    # planar CSL: points of grain 1's plane lattice that are also in R L (its index in the
    # planar lattice divides Sigma, so a reduced basis has coefficients well inside +-2 Sigma)
    p1, p2 = pb1
    J = 2 * max(int(sigma), 2)
    ij = np.array(list(itertools.product(range(-J, J + 1), repeat=2)), float)
    pts = ij @ np.array([p1, p2])
    rot_basis = basis @ R.T  # rows: R b_i
    csl = pts[_in_lattice(pts, rot_basis)]
    if len(csl) < 3:
        raise UserError(f"grain_boundaries: no periodic Sigma{sigma} cell in plane {list(map(int, n_int))} "
                        f"for axis {list(axis)}")
    a1, a2 = _reduced_2d_basis(csl)
    if np.cross(a1, a2) @ normal < 0:
        a2 = -a2

    reps1 = max(1, math.ceil(grain_thickness_cells * a_const / d1 - 1e-9))
    reps2 = max(1, math.ceil(grain_thickness_cells * a_const / d2 - 1e-9))
    h1, h2 = reps1 * d1, reps2 * d2
    W1 = _reduce_inplane(reps1 * w1, a1, a2, normal)
    W2 = _reduce_inplane(reps2 * w2, a1, a2, normal)
    if gap_A < 0 or gap_A > 20:
        raise UserError(f"gap_A: must be in [0, 20] Angstrom, found {gap_A}")
    C = _reduce_inplane(W1 + W2, a1, a2, normal) + 2.0 * gap_A * normal

    tr = np.asarray(translation, dtype=float)
    if tr.shape != (2,):
        raise UserError(f"translations: each translation must be 2 numbers (fractions of a1, a2), "
                        f"found {list(np.ravel(translation))}")
    t = tr[0] * a1 + tr[1] * a2

    units = _units(bulk)
    pos1, src1, tile1 = _fill(bulk, units, np.eye(3), np.zeros(3), np.zeros(3), np.array([a1, a2, W1]))
    pos2, src2, tile2 = _fill(bulk, units, R, t, W1, np.array([a1, a2, W2]))
    grain = np.concatenate([np.full(len(pos1), 1), np.full(len(pos2), 2)])
    src = np.concatenate([src1, src2])
    tile = np.concatenate([tile1, tile2])
    pos = np.vstack([pos1 + 0.5 * gap_A * normal, pos2 + 1.5 * gap_A * normal])
    _, unit_new = np.unique(np.stack([grain, tile]), axis=1, return_inverse=True)

    # lab frame: a1 -> x, normal -> z
    ex = a1 / np.linalg.norm(a1)
    ez = normal
    ey = np.cross(ez, ex)
    Q = np.array([ex, ey, ez])
    cell = np.array([Q @ a1, Q @ a2, Q @ C])
    cell[np.abs(cell) < 1e-10] = 0.0
    atoms = Atoms(numbers=bulk.numbers[src], positions=pos @ Q.T, cell=cell, pbc=True)
    atoms.wrap()
    for name in ("sublattice",):
        if name in bulk.arrays:
            atoms.new_array(name, bulk.arrays[name][src].astype(np.int32))
    atoms.new_array("unit_id", unit_new.astype(np.int32))
    atoms.new_array("grain_id", grain.astype(np.int32))
    n_before = len(atoms)
    h_total = h1 + h2 + 2.0 * gap_A
    gb_z = (0.0, h1 + gap_A)

    keep, removed = _remove_overlaps(atoms, gb_z=gb_z, period=h_total, min_distance_A=min_distance_A,
                                     min_anion_distance_A=min_anion_distance_A, gb_region_A=gb_region_A,
                                     mobile_ion=mobile_ion)
    atoms = atoms[keep]
    _, uid = np.unique(atoms.arrays["unit_id"], return_inverse=True)
    atoms.arrays["unit_id"] = uid.astype(np.int32)
    z = atoms.positions[:, 2]
    atoms.new_array("gb_distance_A", _gb_distance(z, gb_z, h_total))
    atoms.new_array("gb_normal", np.tile(np.array([0.0, 0.0, 1.0]), (len(atoms), 1)))
    hkl = " ".join(str(int(x)) for x in n_int)
    atoms.info.update({k: v for k, v in bulk.info.items() if isinstance(v, (int, float, str, bool))})
    atoms.info.update(
        gb_sigma=int(sigma), gb_plane=hkl, gb_plane_grain_2=" ".join(str(int(x)) for x in n2_int),
        gb_axis=" ".join(str(int(x)) for x in axis),
        gb_misorientation_deg=float(theta), gb_translation=f"{tr[0]:g} {tr[1]:g}",
        gb_plane_1_z_A=float(gb_z[0]), gb_plane_2_z_A=float(gb_z[1]),
        gb_normal=[0.0, 0.0, 1.0], gb_normal_crystal=" ".join(f"{x:.6g}" for x in normal),
        gb_area_A2=float(np.linalg.norm(np.cross(a1, a2))), gb_lattice=lattice_kind,
        grain_1_thickness_A=float(h1), grain_2_thickness_A=float(h2), gb_gap_A=float(gap_A),
        gb_atoms_removed=int(n_before - len(atoms)), gb_removed=removed,
    )
    log.info("Sigma%d (%s)[%s] bicrystal: %d atoms, %d removed (%s)", sigma, hkl, atoms.info["gb_axis"],
             len(atoms), n_before - len(atoms), removed)
    return atoms


def _gb_distance(z: np.ndarray, planes, period: float) -> np.ndarray:
    out = np.full(len(z), np.inf)
    for zp in planes:
        d = np.mod(z - zp + 0.5 * period, period) - 0.5 * period
        out = np.minimum(out, np.abs(d))
    return out


def _remove_overlaps(atoms: Atoms, *, gb_z, period, min_distance_A, min_anion_distance_A, gb_region_A,
                     mobile_ion: str = "Li"):
    """Indices to keep and a text summary of the removed ions (rule: module docstring)."""
    from ase.neighborlist import neighbor_list

    sym = np.array(atoms.get_chemical_symbols())
    uid = atoms.arrays["unit_id"]
    grain = atoms.arrays["grain_id"]
    charge = {}
    for u, s in zip(uid, sym):
        charge[int(u)] = charge.get(int(u), 0) + FORMAL_CHARGE[s]
    single = np.bincount(uid)[uid] == 1
    is_li = sym == mobile_ion  # the mobile ion (Li+ in argyrodites)
    is_cation = single & np.array([FORMAL_CHARGE[x] > 0 for x in sym], dtype=bool)
    cut = max(min_distance_A, min_anion_distance_A)
    i, j, d = neighbor_list("ijd", atoms, cut)
    sel = (i < j) & (uid[i] != uid[j]) & (grain[i] != grain[j])
    i, j, d = i[sel], j[sel], d[sel]
    anion_pair = ~is_cation[i] & ~is_cation[j]
    bad = (d < min_distance_A) | (anion_pair & (d < min_anion_distance_A))
    # ties (frequent: symmetry-equivalent pairs) are broken by position in the cell, not by
    # atom order, so equivalent inputs (e.g. translations differing by a CSL vector) give
    # identical cells
    frac = np.round(atoms.get_scaled_positions(wrap=True), 6) % 1.0
    rank = np.empty(len(atoms), dtype=np.int64)
    rank[np.lexsort(frac.T[::-1])] = np.arange(len(atoms))
    ib, jb, db = i[bad], j[bad], d[bad]
    lo, hi = np.minimum(rank[ib], rank[jb]), np.maximum(rank[ib], rank[jb])
    order = np.lexsort((hi, lo, np.round(db, 6)))
    pairs = np.stack([ib, jb], axis=1)[order]
    removed_units: set[int] = set()
    for a, b in pairs:
        ua, ub = int(uid[a]), int(uid[b])
        if ua in removed_units or ub in removed_units:
            continue
        ka = (0 if is_li[a] else 1, 0 if is_cation[a] else 1, abs(charge[ua]), 0 if grain[a] == 2 else 1)
        kb = (0 if is_li[b] else 1, 0 if is_cation[b] else 1, abs(charge[ub]), 0 if grain[b] == 2 else 1)
        removed_units.add(ua if ka <= kb else ub)

    q = -sum(charge[u] for u in removed_units)  # charge left in the cell
    z = atoms.positions[:, 2]
    dist_gb = _gb_distance(z, gb_z, period)

    # neighbour pairs once (O(N)); "crowding" = distance to the nearest remaining atom
    ni, nj, nd = neighbor_list("ijd", atoms, 4.0)  # nearest neighbours are < 3 A here

    def crowded(candidates: np.ndarray) -> int:
        alive = ~np.isin(uid, list(removed_units))
        nn = np.full(len(atoms), np.inf)
        sel = np.isin(ni, candidates) & alive[nj] & (nd > 1e-9)
        np.minimum.at(nn, ni[sel], nd[sel])
        order = np.lexsort((rank[candidates], np.round(nn[candidates], 6)))
        return int(candidates[order[0]])  # most crowded; ties by position

    def pick(species_mask: np.ndarray) -> int | None:
        alive = ~np.isin(uid, list(removed_units))
        if not np.any(species_mask & alive):
            return None
        region = gb_region_A
        near = np.flatnonzero(species_mask & alive & (dist_gb <= region))
        while len(near) == 0:  # widen the GB region until a candidate is found
            region += 1.0
            near = np.flatnonzero(species_mask & alive & (dist_gb <= region))
        return int(uid[crowded(near)])

    unit_q = np.array([charge[int(u)] for u in uid])
    anion_charges = sorted({int(q_) for q_ in unit_q[single] if q_ < 0}, reverse=True)  # -1 (X-) before -2 (S2-)
    poly_charges = sorted({int(q_) for q_ in unit_q[~single] if q_ < 0}, reverse=True)
    for _ in range(10 * len(atoms) + 10):
        if q == 0:
            break
        u = None
        if q > 0:
            u = pick(is_li)
            if u is None:
                u = pick(is_cation)
        else:
            for qa in anion_charges:
                u = pick(single & (unit_q == qa))
                if u is not None:
                    break
            if u is None:
                for qa in poly_charges:
                    u = pick(~single & (unit_q == qa))
                    if u is not None:
                        break
        if u is None:
            raise UserError(f"grain_boundaries: cannot restore charge neutrality of the bicrystal (charge {q:+d} e "
                            f"left and no {'cation' if q > 0 else 'anion'} to remove near the GB)")
        removed_units.add(u)
        q -= charge[u]
    else:
        raise UserError(f"grain_boundaries: cannot restore charge neutrality of the bicrystal with whole ions "
                        f"(charge {q:+d} e left); try another translation or min_distance_A")
    counts: dict[str, int] = {}
    for u in sorted(removed_units):
        members = sym[uid == u]
        if len(members) > 1:  # molecular ion: centre + ligands, e.g. PS4
            centre = max(set(members), key=lambda x: FORMAL_CHARGE[x])
            lig = sorted(set(members) - {centre})
            name = centre + "".join(f"{x}{(members == x).sum()}" for x in lig)
        else:
            name = str(members[0])
        counts[name] = counts.get(name, 0) + 1
    keep = np.flatnonzero(~np.isin(uid, list(removed_units)))
    summary = ", ".join(f"{k}:{v}" for k, v in sorted(counts.items())) or "none"
    return keep, summary
