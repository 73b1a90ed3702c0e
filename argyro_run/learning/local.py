"""Local active learning: cut the neighbourhood of a high-grade atom out of a large cell.

A GB cell of thousands of atoms is too big to label with the reference. Instead, for each
selected atom we cut out a sphere of radius ``radius_A`` around it (whole molecular ions, e.g.
PS4^3-, are kept or dropped as a unit; the cut-out is made charge neutral by dropping outermost
ions), label that small system, and train on the forces of the *core* atoms only: those within
``radius_A - cutoff_A`` of the centre, whose entire MTP neighbourhood (cutoff sphere) is inside
the cut-out and identical to the one in the big cell.

Two modes: ``cluster`` (non-periodic, ``vacuum_A`` of empty space around it) and ``periodic``
(a cubic periodic box of side ``2 * radius_A + vacuum_A``; atoms of the buffer shell whose
periodic images come closer than ``min_distance_A`` are removed).
"""

from __future__ import annotations

import numpy as np

from argyro_run.structures.ions import FORMAL_CHARGE as FORMAL_CHARGES  # one owner of the tables
from argyro_run.structures.ions import UNIT_BONDS_A


def molecular_units(atoms, bonds: dict | None = None) -> np.ndarray:
    """Unit id per atom: atoms joined by a listed covalent bond share an id (connected components)."""
    from ase.neighborlist import neighbor_list
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    bonds = UNIT_BONDS_A if bonds is None else bonds
    n = len(atoms)
    if not bonds or n == 0:
        return np.arange(n)
    rmax = max(bonds.values())
    i, j, d = neighbor_list("ijd", atoms, rmax)
    sym = atoms.get_chemical_symbols()
    keep = np.array([d[k] <= bonds.get((sym[i[k]], sym[j[k]]), bonds.get((sym[j[k]], sym[i[k]]), -1.0))
                     for k in range(len(i))], dtype=bool) if len(i) else np.zeros(0, bool)
    g = coo_matrix((np.ones(int(keep.sum())), (i[keep], j[keep])), shape=(n, n))
    return connected_components(g, directed=False)[1]


def cut_out(atoms, center: int, *, radius_A: float, cutoff_A: float, mode: str = "cluster",
            vacuum_A: float = 6.0, min_distance_A: float = 1.2, neutralise: bool = True,
            formal_charges: dict | None = None, units: np.ndarray | None = None):
    """The neighbourhood of atom ``center`` as a small labelled-ready system.

    Returns an ``Atoms`` with per-atom arrays ``core`` (bool: force to train on),
    ``parent_index`` (index in ``atoms``), and ``info`` entries ``center_parent_index``,
    ``core_radius_A``, ``formal_charge`` (0 after neutralisation).
    """
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    if radius_A <= cutoff_A:
        raise ValueError(f"local radius {radius_A} A must exceed the potential cutoff {cutoff_A} A")
    if mode not in ("cluster", "periodic"):
        raise ValueError(f"mode must be 'cluster' or 'periodic', got {mode!r}")
    charges = FORMAL_CHARGES if formal_charges is None else formal_charges
    units = molecular_units(atoms) if units is None else units
    core_r = radius_A - cutoff_A

    # every periodic image of every atom within radius_A of the centre (small cells give several)
    probe = atoms.copy()
    probe.calc = None
    i, j, D = neighbor_list("ijD", probe, radius_A + 4.0)  # +4 A: whole units at the rim
    sel = i == center
    idx = np.concatenate([[center], j[sel]])
    vec = np.concatenate([np.zeros((1, 3)), D[sel]])
    dist = np.linalg.norm(vec, axis=1)
    # a unit (with its image shift) is in when its anchor (its first member seen nearest) is inside
    # a unit instance = (unit id, vector to its anchor atom's image): members of a unit that
    # straddles the cell boundary are recognised as one instance
    from ase.geometry import find_mic

    anchor = {}
    for p in range(len(atoms)):
        anchor.setdefault(units[p], p)
    anc = np.array([anchor[units[p]] for p in range(len(atoms))])
    offset, _ = find_mic(atoms.positions - atoms.positions[anc], atoms.cell, atoms.pbc)
    unit_key = [(units[p], tuple(np.round(v - offset[p], 3))) for p, v in zip(idx, vec)]
    unit_min = {}
    for k, d in zip(unit_key, dist):
        unit_min[k] = min(d, unit_min.get(k, np.inf))
    inside = np.array([unit_min[k] <= radius_A for k in unit_key])
    idx, vec, dist = idx[inside], vec[inside], dist[inside]
    keys = [k for k, m in zip(unit_key, inside) if m]
    sym = np.array(atoms.get_chemical_symbols())[idx]
    q_atom = np.array([charges.get(s, 0) for s in sym])
    core = dist <= core_r + 1e-9

    if neutralise:
        keep = np.ones(len(idx), dtype=bool)
        # removable: whole units fully outside the core, ordered from the outermost in
        ukeys = list(dict.fromkeys(keys))
        uq = {u: 0 for u in ukeys}
        ud = {u: 0.0 for u in ukeys}
        ucore = {u: False for u in ukeys}
        for k, q, d, c in zip(keys, q_atom, dist, core):
            uq[k] += q
            ud[k] = max(ud[k], d)
            ucore[k] = ucore[k] or c
        removable = sorted([u for u in ukeys if not ucore[u] and uq[u] != 0], key=lambda u: -ud[u])
        total = int(sum(uq.values()))
        removed = set()
        for _ in range(4 * len(removable) + 4):
            if total == 0:
                break
            # drop the outermost unit whose charge has the sign of the excess and does not overshoot
            # by more than needed (prefer exact |q| <= |total|)
            cands = [u for u in removable if u not in removed and np.sign(uq[u]) == np.sign(total)]
            exact = [u for u in cands if abs(uq[u]) <= abs(total)]
            pick = (exact or cands)[:1]
            if not pick:
                break
            removed.add(pick[0])
            total -= uq[pick[0]]
        for n_, k in enumerate(keys):
            if k in removed:
                keep[n_] = False
        idx, vec, dist, sym, q_atom, core = idx[keep], vec[keep], dist[keep], sym[keep], q_atom[keep], core[keep]
        if total != 0:
            raise ValueError(f"could not make the cut-out around atom {center} charge neutral (excess {total}); "
                             "increase active_learning.local_radius_A")

    out = Atoms(symbols=list(sym), positions=vec)
    if mode == "cluster":
        out.positions -= out.positions.min(axis=0)
        out.positions += vacuum_A
        out.cell = out.positions.max(axis=0) + vacuum_A
        out.pbc = False
    else:
        side = 2 * (dist.max() if len(dist) else radius_A) + vacuum_A
        out.cell = [side, side, side]
        out.pbc = True
        out.positions += side / 2
        # drop rim atoms too close to periodic images (never core atoms)
        from ase.neighborlist import neighbor_list as nl

        for _ in range(len(out)):
            a, b, d = nl("ijd", out, min_distance_A)
            bad = [(x, y) for x, y in zip(a, b) if not (core[x] and core[y])]
            if not bad:
                break
            victim = max({x for x, y in bad if not core[x]} | {y for x, y in bad if not core[y]},
                         key=lambda t: dist[t])
            m = np.ones(len(out), dtype=bool)
            m[victim] = False
            out, idx, dist, core = out[m], idx[m], dist[m], core[m]
    out.new_array("core", core.astype(bool))
    out.new_array("parent_index", idx.astype(np.int64))
    out.info.update(center_parent_index=int(center), core_radius_A=float(core_r),
                    formal_charge=int(sum(charges.get(s, 0) for s in out.get_chemical_symbols())))
    return out
