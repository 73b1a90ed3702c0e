"""Anion site-exchange disorder: halide (4a) <-> free S2- (4c) swaps in exact numbers."""

from __future__ import annotations

import logging

import numpy as np
from ase import Atoms

from argyro_run.errors import UserError
from argyro_run.structures.argyrodite import HALIDES, SUBLATTICE, ion_units

log = logging.getLogger(__name__)


def exchange_sites(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the halide sublattice (4a) and of the free-S2- sublattice (4c).

    Uses the ``sublattice`` array when present (so already-exchanged cells keep their site
    identity); otherwise (structure files) the current halides form the 4a set and the S
    atoms that belong to no PS4 unit the 4c set, i.e. the input is taken as ordered.
    """
    if "sublattice" in atoms.arrays and np.any(atoms.arrays["sublattice"] == SUBLATTICE["site_4a"]):
        sub = atoms.arrays["sublattice"]
        return np.flatnonzero(sub == SUBLATTICE["site_4a"]), np.flatnonzero(sub == SUBLATTICE["site_4c"])
    sym = np.array(atoms.get_chemical_symbols())
    uid = atoms.arrays["unit_id"] if "unit_id" in atoms.arrays else ion_units(atoms)
    counts = np.bincount(uid)
    free_s = np.flatnonzero((sym == "S") & (counts[uid] == 1))
    halide = np.flatnonzero(np.isin(sym, HALIDES))
    return halide, free_s


def site_exchange(atoms: Atoms, fraction: float, *, seed: int) -> Atoms:
    """Copy of ``atoms`` with ``round(fraction * n_4a)`` halides swapped with as many free
    S2- ions (``n_4a`` = the smaller of the two site counts when they differ, as in GB cells)
    (species exchanged, positions kept), sites drawn with ``numpy.random.default_rng(seed)``.
    ``fraction = 0.5`` mixes both sublattices fully, ``1`` inverts them. The per-atom
    ``sublattice`` codes keep naming the crystal sites, so the occupation of a site is its
    chemical symbol."""
    f = float(fraction)
    if not 0.0 <= f <= 1.0:
        raise UserError(f"site_disorder: fraction must be in [0, 1], found {fraction}")
    out = atoms.copy()
    site_a, site_c = exchange_sites(out)
    if len(site_a) == 0 or len(site_c) == 0:
        raise UserError(f"structure: site exchange needs halide (4a) and free S2- (4c) sites, "
                        f"found {len(site_a)} and {len(site_c)}")
    # bulk cells have n_4a == n_4c; GB cells may have lost a few ions of one kind
    n_swap = int(round(f * min(len(site_a), len(site_c))))
    rng = np.random.default_rng(seed)
    pick_a = np.sort(rng.choice(site_a, size=n_swap, replace=False))
    pick_c = np.sort(rng.choice(site_c, size=n_swap, replace=False))
    sym = np.array(out.get_chemical_symbols(), dtype=object)
    sym[pick_a], sym[pick_c] = sym[pick_c].copy(), sym[pick_a].copy()
    out.set_chemical_symbols(list(sym))
    if "sublattice" not in out.arrays:
        sub = np.zeros(len(out), dtype=np.int32)
        sub[site_a] = SUBLATTICE["site_4a"]
        sub[site_c] = SUBLATTICE["site_4c"]
        out.new_array("sublattice", sub)
    out.info.update(site_disorder=f, n_site_exchanges=n_swap, disorder_seed=int(seed))
    log.debug("site exchange: %d of %d 4a sites swapped (seed %d)", n_swap, len(site_a), seed)
    return out


def mix_halides(atoms: Atoms, halide: str, fraction: float, *, seed: int) -> Atoms:
    """Copy of ``atoms`` with ``round(fraction * n_X)`` of its halide ions (on 4a or, after
    site exchange, on 4c) replaced by ``halide`` (e.g. Li6PS5Cl(1-f)Br(f)), chosen with
    ``numpy.random.default_rng(seed)``. Positions are kept."""
    if halide not in HALIDES:
        raise UserError(f"mixed_halide: unknown halide {halide!r}; allowed: {', '.join(HALIDES)}")
    f = float(fraction)
    if not 0.0 <= f <= 1.0:
        raise UserError(f"mixed_halide_fraction: must be in [0, 1], found {fraction}")
    out = atoms.copy()
    sym = np.array(out.get_chemical_symbols(), dtype=object)
    present = sorted({s for s in sym if s in HALIDES and s != halide})
    if len(present) != 1:
        raise UserError(f"mixed_halide: the structure must contain exactly one other halide to mix with "
                        f"{halide}, found {present or 'none'}")
    sites = np.flatnonzero(sym == present[0])
    n = int(round(f * len(sites)))
    pick = np.sort(np.random.default_rng(seed).choice(sites, size=n, replace=False))
    sym[pick] = halide
    out.set_chemical_symbols(list(sym))
    out.info.update(mixed_halide=halide, mixed_halide_fraction=f, n_mixed_halide=n, mixed_halide_seed=int(seed))
    return out
