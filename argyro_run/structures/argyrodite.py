"""Li6PS5X (X = Cl, Br, I) argyrodites in the conventional cubic F-43m cell (52 atoms).

Sites (origin on the halide, setting used throughout ``argyro_run.structures``):

=========  =========  ===========================  ==============================
Wyckoff    element    coordinates                  role
=========  =========  ===========================  ==============================
4a         X          (0, 0, 0)                    halide (ordered cell)
4c         S          (1/4, 1/4, 1/4)              "free" S2- (ordered cell)
4b         P          (1/2, 1/2, 1/2)              centre of the PS4 tetrahedra
16e        S          (x, x, x), x ~ 0.62          PS4 corners
48h        Li         (x, x, z), x ~ 0.3175        half occupied: 24 close pairs
=========  =========  ===========================  ==============================

The free S2- site of the ordered cell is 4c in this setting (4d in the inverted setting
with x(16e) ~ 0.38 used by some papers; the two descriptions are the same crystal).
The 48 Li sites form 24 close pairs (~1.9 Angstrom, the "48h-48h doublet"); a physical cell
takes one Li per pair, so the 52-atom cell is Li24 P4 S20 X4. Numbers and sources:
``docs/structures.md``.

Per-atom arrays attached to every structure built here (and carried through supercells,
disorder and grain boundaries):

* ``sublattice`` (int): :data:`SUBLATTICE` codes (1 Li 48h, 2 P 4b, 3 S 16e, 4 site 4a,
  5 site 4c); 0 for atoms read from files that could not be assigned.
* ``unit_id`` (int): ion/unit index; the P and four S of a PS4^3- unit share one id, every
  other ion (Li+, X-, S2-) has its own.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
from ase import Atoms

from argyro_run.errors import UserError
from argyro_run.structures.ions import FORMAL_CHARGE, UNIT_BONDS_A

log = logging.getLogger(__name__)

HALIDES = ("Cl", "Br", "I")

#: Room-temperature cubic lattice constants (Angstrom), Kraft et al., JACS 139 (2017) 10909.
LATTICE_CONSTANTS_A = {"Cl": 9.86, "Br": 9.99, "I": 10.14}

#: x of S on 16e (x, x, x) around P on 4b; gives P-S = sqrt(3) (x - 1/2) a ~ 2.04-2.05 Angstrom.
S16E_X = {"Cl": 0.6196, "Br": 0.6185, "I": 0.6168}

#: Li on 48h (x, x, z), representative room-temperature refinement values (docs/structures.md).
LI48H_XZ = {"Cl": (0.3175, 0.0225), "Br": (0.3175, 0.0225), "I": (0.3175, 0.0225)}


#: Integer codes of the ``sublattice`` per-atom array.
SUBLATTICE = {"unknown": 0, "Li_48h": 1, "P_4b": 2, "S_16e": 3, "site_4a": 4, "site_4c": 5}

#: Minimum Li-Li distance (Angstrom) accepted for a choice of one site per 48h pair.
LI_LI_MIN_A = 1.8

#: P-S distance (Angstrom) below which an S belongs to a PS4 unit.
PS_BOND_MAX_A = UNIT_BONDS_A[("P", "S")]

_FCC = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])


def _orbit(frac: np.ndarray) -> np.ndarray:
    """Images of fractional positions under the 24 operations of -43m plus F centring."""
    # -43m: the 24 signed permutation matrices mapping the tetrahedron
    # {(1,1,1), (1,-1,-1), (-1,1,-1), (-1,-1,1)} onto itself
    tet = {(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)}
    keep = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3), dtype=int)
            for r, c in enumerate(perm):
                m[r, c] = signs[r]
            if {tuple(m @ np.array(v)) for v in tet} == tet:
                keep.append(m)
    assert len(keep) == 24
    out = []
    for m in keep:
        p = frac @ m.T
        for t in np.vstack([np.zeros(3), _FCC]):
            out.append(p + t)
    out = np.mod(np.vstack(out), 1.0)
    out[np.isclose(out, 1.0, atol=1e-9)] = 0.0
    # unique
    key = np.round(out, 6)
    _, idx = np.unique(key, axis=0, return_index=True)
    return out[np.sort(idx)]


def li_sites_48h(halide: str = "Cl") -> np.ndarray:
    """Fractional coordinates (48, 3) of every 48h Li site of the conventional cell (half of them
    occupied in a physical cell: one per close pair)."""
    x, z = LI48H_XZ[halide]
    return _orbit(np.array([[x, x, z]]))


def cage_centres_4c() -> np.ndarray:
    """Fractional coordinates (4, 3) of the 4c sites: the free S2- of the ordered cell, each the centre
    of a cage of 12 48h sites (6 close pairs) at ~2.4 Angstrom."""
    return _orbit(np.array([[0.25, 0.25, 0.25]]))


def _li_pairs(frac_li: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Indices (24, 2) of the close 48h pairs (each site's nearest Li site)."""
    d = frac_li[:, None, :] - frac_li[None, :, :]
    d -= np.round(d)
    dist = np.linalg.norm(d @ cell, axis=-1)
    np.fill_diagonal(dist, np.inf)
    nn = np.argmin(dist, axis=1)
    pairs = sorted({tuple(sorted((i, int(nn[i])))) for i in range(len(frac_li))})
    if len(pairs) != len(frac_li) // 2 or any(nn[j] != i for i, j in pairs):
        raise RuntimeError("48h sites do not form mutual nearest-neighbour pairs")
    return np.array(pairs)


def _min_li_li(frac: np.ndarray, cell: np.ndarray) -> float:
    d = frac[:, None, :] - frac[None, :, :]
    d -= np.round(d)
    dist = np.linalg.norm(d @ cell, axis=-1)
    np.fill_diagonal(dist, np.inf)
    return float(dist.min())


def _fcc_pair_orbits(frac_li: np.ndarray, pairs: np.ndarray) -> list[list[tuple[int, int]]]:
    """Group the 24 pairs into 6 orbits of the F-centring translations; each orbit is a list
    of (site_a, site_b) with site_a of every member the translate of site_a of the first."""
    key = {tuple(np.round(np.mod(f, 1.0), 6) % 1.0): i for i, f in enumerate(frac_li)}

    def find(f):
        k = tuple(np.round(np.mod(f, 1.0), 6) % 1.0)
        return key[k]

    seen: set[int] = set()
    orbits = []
    for a, b in pairs:
        if a in seen:
            continue
        orbit = [(int(a), int(b))]
        seen.update((a, b))
        for t in _FCC:
            ta, tb = find(frac_li[a] + t), find(frac_li[b] + t)
            orbit.append((ta, tb))
            seen.update((ta, tb))
        orbits.append(orbit)
    return orbits


def argyrodite(halide: str = "Cl", *, lattice_constant_A: float | None = None,
               li_seed: int | None = None) -> Atoms:
    """The 52-atom conventional cell of Li6PS5X (ordered anions: X on 4a, S2- on 4c).

    ``li_seed=None`` picks one Li per 48h pair deterministically: the choice that is
    invariant under the F-centring translations (so the cell keeps the fcc translation
    lattice, which keeps grain-boundary cells small) and maximises the smallest Li-Li
    distance (first such choice in a fixed enumeration order). An integer ``li_seed`` picks
    one site per pair at random (``numpy.random.default_rng(li_seed)``) among choices with
    all Li-Li distances >= :data:`LI_LI_MIN_A`; those cells are in general only simple-cubic
    periodic.
    """
    if halide not in HALIDES:
        raise UserError(f"halide: unknown halide {halide!r}; allowed: {', '.join(HALIDES)}")
    a = LATTICE_CONSTANTS_A[halide] if lattice_constant_A is None else float(lattice_constant_A)
    if not a > 0:
        raise UserError(f"lattice_constant_A: must be positive, found {a}")
    cell = np.eye(3) * a
    x_s = S16E_X[halide]
    x_li, z_li = LI48H_XZ[halide]
    groups = [
        ("Li", SUBLATTICE["Li_48h"], _orbit(np.array([[x_li, x_li, z_li]]))),
        ("P", SUBLATTICE["P_4b"], _orbit(np.array([[0.5, 0.5, 0.5]]))),
        ("S", SUBLATTICE["S_16e"], _orbit(np.array([[x_s, x_s, x_s]]))),
        (halide, SUBLATTICE["site_4a"], _orbit(np.array([[0.0, 0.0, 0.0]]))),
        ("S", SUBLATTICE["site_4c"], _orbit(np.array([[0.25, 0.25, 0.25]]))),
    ]
    counts = [len(g[2]) for g in groups]
    assert counts == [48, 4, 16, 4, 4], counts

    li_all = groups[0][2]
    pairs = _li_pairs(li_all, cell)
    if li_seed is None:
        orbits = _fcc_pair_orbits(li_all, pairs)
        best, best_key = None, None
        for choice in itertools.product((0, 1), repeat=len(orbits)):
            sel = [pair[c] for orbit, c in zip(orbits, choice) for pair in orbit]
            dmin = _min_li_li(li_all[sel], cell)
            key = round(dmin, 6)
            if best_key is None or key > best_key:
                best, best_key = sorted(sel), key
        chosen = best
    else:
        rng = np.random.default_rng(li_seed)
        for _ in range(10000):
            c = rng.integers(0, 2, size=len(pairs))
            sel = sorted(int(p[k]) for p, k in zip(pairs, c))
            if _min_li_li(li_all[sel], cell) >= LI_LI_MIN_A:
                chosen = sel
                break
        else:  # pragma: no cover - the pair geometry always allows one
            raise RuntimeError(f"no Li ordering with Li-Li >= {LI_LI_MIN_A} A found for li_seed={li_seed}")

    symbols: list[str] = []
    frac: list[np.ndarray] = []
    sub: list[int] = []
    for sym, code, pos in groups:
        if sym == "Li":
            pos = pos[chosen]
        symbols += [sym] * len(pos)
        frac.append(pos)
        sub += [code] * len(pos)
    atoms = Atoms(symbols=symbols, scaled_positions=np.vstack(frac), cell=cell, pbc=True)
    atoms.new_array("sublattice", np.array(sub, dtype=np.int32))
    atoms.new_array("unit_id", ion_units(atoms))
    atoms.info.update(halide=halide, lattice_constant_A=a,
                      li_ordering="fcc-max-min-distance" if li_seed is None else f"seed {li_seed}")
    return atoms


def ion_units(atoms: Atoms) -> np.ndarray:
    """Unit index per atom: the centre of a molecular anion (P, Ge, Si, ... of
    :data:`~argyro_run.structures.ions.UNIT_BONDS_A`) and its ligands within the bond length
    (minimum image) share one id (PS4^3-, GeS4^4-, ...); every other atom is its own unit. Ids
    are 0..n_units-1 in order of first appearance."""
    n = len(atoms)
    uid = -np.ones(n, dtype=np.int64)
    sym = np.array(atoms.get_chemical_symbols())
    if not atoms.cell.rank == 3 and any(atoms.pbc):
        raise UserError("structure: periodic structure without a 3D cell")
    owner = -np.ones(n, dtype=np.int64)
    bonds = {k: v for k, v in UNIT_BONDS_A.items() if k[0] in sym and k[1] in sym}
    if bonds:
        from ase.neighborlist import neighbor_list

        i, j, d = neighbor_list("ijd", atoms, max(bonds.values()))
        cut = np.array([bonds.get((a, b), -1.0) for a, b in zip(sym[j], sym[i])]) if len(i) else np.zeros(0)
        sel = d <= cut  # i a ligand, j its centre
        i, j = i[sel], j[sel]
        n_c = np.bincount(i, minlength=n)
        if np.any(n_c > 1):
            s = int(np.flatnonzero(n_c > 1)[0])
            raise UserError(f"structure: {sym[s]} atom {s} is bonded to two molecular-anion centres "
                            f"({', '.join(f'{a}-{b} <= {v} A' for (a, b), v in bonds.items())}); cannot assign units")
        owner[i] = j
    centres = {c for c, _ in bonds}
    nxt = 0
    for i in range(n):
        if uid[i] >= 0:
            continue
        if owner[i] >= 0:
            i_c = owner[i]
            if uid[i_c] < 0:
                uid[i_c] = nxt
                nxt += 1
                uid[owner == i_c] = uid[i_c]
            uid[i] = uid[i_c]
            continue
        uid[i] = nxt
        nxt += 1
        if sym[i] in centres:
            uid[owner == i] = uid[i]
    return uid.astype(np.int32)


def unit_charges(atoms: Atoms, unit_id: np.ndarray | None = None) -> dict[int, int]:
    """Formal charge of every unit (PS4 -3, S2- -2, X- -1, Li+ +1, ...)."""
    uid = atoms.arrays["unit_id"] if unit_id is None else unit_id
    q: dict[int, int] = {}
    for u, s in zip(uid, atoms.get_chemical_symbols()):
        q[int(u)] = q.get(int(u), 0) + FORMAL_CHARGE[s]
    return q


def formal_charge(atoms: Atoms) -> int:
    """Sum of formal charges (0 for a neutral ionic crystal)."""
    try:
        return int(sum(FORMAL_CHARGE[s] for s in atoms.get_chemical_symbols()))
    except KeyError as exc:
        raise UserError(f"structure: element {exc.args[0]} has no formal charge; allowed: {sorted(FORMAL_CHARGE)}") from None


def space_groups(atoms: Atoms, *, symprec: float = 1e-3) -> dict[str, str]:
    """spglib space groups of the whole structure (``with_li``) and of its anion framework
    without Li (``framework``), e.g. ``{"framework": "F-43m (216)", "with_li": "P1 (1)"}``
    for the ordered default cell."""
    import spglib

    frame = np.array(atoms.get_chemical_symbols()) != "Li"
    out = {}
    for key, mask in (("framework", frame), ("with_li", np.ones(len(atoms), bool))):
        cell = (np.asarray(atoms.cell[:]), atoms.get_scaled_positions()[mask], atoms.numbers[mask])
        out[key] = spglib.get_spacegroup(cell, symprec=symprec) or "unknown"
    return out
