"""Li jumps between the 48h sites of an argyrodite: which kinds of jump carry the diffusion.

Li in Li6PS5X sits on 48h sites that form close pairs (~1.9 A apart, the doublet), six pairs to a cage
around each 4c site (the free S2-). Three kinds of jump connect them (site distances at a = 9.86 A):
*doublet* within a pair (1.9 A), *intracage* between pairs of one cage (2.2 and 3.6 A) and *intercage*
between neighbouring cages (2.9 A). Doublet and intracage jumps only move an ion around its cage; long-range
diffusion needs intercage jumps, whose barrier is what sets the Arrhenius energy of a phase in which they
are the slowest step (de Klerk et al., Chem. Mater. 28 (2016) 7955; Ou et al., arXiv 2510.18630).

:func:`argyrodite_sites` tiles the conventional cell's sites over a diagonal supercell;
:func:`assign_sites` places each ion on a site when it comes within ``core_radius_A`` of one and keeps
the last site while it is between sites (a transit or an interstitial visit counts no jump);
:func:`assign_cages` places it in the cage whose 4c centre is clearly the nearest (the way between two
cages keeps the last); :func:`count_jumps` counts site changes within a cage (doublet, intracage) and
cage changes (intercage); :func:`jump_statistics` turns counts into rates per
ion and the random-walk diffusivity of the cage-to-cage moves, ``D_cage = Gamma_inter d_cc^2 / 6``
(d_cc = a / sqrt 2, the 4c-4c distance). Where the MD's D equals ``D_cage``, intercage jumps carry it
(uncorrelated); their ratio is the correlation of successive cage changes (back jumps lower it).
"""

from __future__ import annotations

import numpy as np

#: Jump kinds, in the order of the arrays in results.
KINDS = ("doublet", "intracage", "intercage")

#: An ion is on a site when within this distance of it: under half the doublet distance (1.9 A), so a
#: doublet jump is counted only once the ion reached the other site, and a visit of the 24g midpoint
#: between the two (0.95 A from each) is none.
CORE_RADIUS_A = 0.8

#: An ion changes cage once it is nearer the new cage's centre than any other by this much: a site lies
#: 2.4 A from its own centre and 5.1 A from the next (a = 9.86 A), the way between two cages halfway.
CAGE_MARGIN_A = 1.0

#: Largest median distance (Angstrom) of the first frame's ions from the shell of their cage (the sphere
#: through the cage's 48h sites around its 4c centre, 2.43 A at a = 9.86 A) for the lattice to be taken
#: as theirs; a guard against a shifted or foreign frame. Measured on the ordered Li6PS5Cl MD of the
#: fourteenth validation study at 600, 700 and 900 K: 0.22-0.24 A, while those ions lay 1.2-1.3 A (median) from
#: their nearest 48h site (spread over their cage, not on its sites; random points: 1.4 A, so a test on
#: the sites cannot tell them from a wrong lattice). The same frames shifted by a/8 or a/4 along x or by
#: a/2: 0.58-1.05 A; random points: 0.77 A. A shift by a/4 along (1, 1, 1) maps the 4c lattice onto the
#: 4b one (0.28-0.30 A) and cannot be told from the ions alone.
MAX_CAGE_SHELL_OFFSET_A = 0.45


def argyrodite_sites(cell_A: np.ndarray, supercell, halide: str = "Cl") -> dict[str, np.ndarray]:
    """The 48h sites of a diagonal ``supercell`` of the conventional cell ``cell_A`` (the supercell's
    cell): ``positions_A`` (n, 3), ``pair`` (n: index of the doublet partner), ``cage`` (n: index of
    the nearest 4c centre), ``cage_centres_A`` (m, 3) and ``cage_distance_A`` (4c-4c nearest distance)."""
    from argyro_run.structures.argyrodite import cage_centres_4c, li_sites_48h

    reps = np.asarray(supercell, dtype=int)
    cell = np.asarray(cell_A, dtype=float)
    shifts = np.array(np.meshgrid(*[np.arange(n) for n in reps], indexing="ij")).reshape(3, -1).T
    site_frac = ((li_sites_48h(halide)[None, :, :] + shifts[:, None, :]) / reps).reshape(-1, 3)
    cage_frac = ((cage_centres_4c()[None, :, :] + shifts[:, None, :]) / reps).reshape(-1, 3)
    sites, centres = site_frac @ cell, cage_frac @ cell

    def dist(fa, fb):
        d = fa[:, None, :] - fb[None, :, :]
        d -= np.round(d)
        return np.linalg.norm(d @ cell, axis=-1)

    dss = dist(site_frac, site_frac)
    np.fill_diagonal(dss, np.inf)
    pair = np.argmin(dss, axis=1)
    if np.any(pair[pair] != np.arange(len(pair))):
        raise ValueError("the 48h sites do not form mutual nearest pairs (not a diagonal supercell of the cubic cell)")
    cage = np.argmin(dist(site_frac, cage_frac), axis=1)
    dcc = dist(cage_frac, cage_frac)
    np.fill_diagonal(dcc, np.inf)
    return {"positions_A": sites, "pair": pair, "cage": cage, "cage_centres_A": centres,
            "cage_distance_A": float(dcc.min())}


def _two_nearest(points_A: np.ndarray, sites_A: np.ndarray, cell_A: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index of the nearest site, its distance, the second-nearest distance), minimum image, of each
    point (..., 3)."""
    cell = np.asarray(cell_A, dtype=float)
    inv = np.linalg.inv(cell)
    flat = np.asarray(points_A, dtype=float).reshape(-1, 3)
    fs = np.asarray(sites_A, dtype=float) @ inv
    idx = np.empty(len(flat), dtype=np.int64)
    two = np.empty((len(flat), 2))
    for lo in range(0, len(flat), 4096):      # bounded memory: 4096 points x sites at a time
        d = (flat[lo:lo + 4096] @ inv)[:, None, :] - fs[None, :, :]
        d -= np.round(d)
        r = np.linalg.norm(d @ cell, axis=-1)
        idx[lo:lo + 4096] = np.argmin(r, axis=1)
        two[lo:lo + 4096] = np.partition(r, 1, axis=1)[:, :2]
    shape = np.shape(points_A)[:-1]
    return idx.reshape(shape), two[:, 0].reshape(shape), two[:, 1].reshape(shape)


def _site_assignment(positions_A, cell_A, sites_A, core_radius_A: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`assign_sites` and the distance of every ion-frame from its nearest site."""
    idx, dist, _ = _two_nearest(positions_A, sites_A, cell_A)
    return _hold(idx, dist <= core_radius_A), dist


def assign_sites(positions_A: np.ndarray, cell_A: np.ndarray, sites_A: np.ndarray,
                 core_radius_A: float = CORE_RADIUS_A) -> np.ndarray:
    """Site of each ion in each frame (frames x ions), from ``positions_A`` (frames x ions x 3, wrapped
    or not): the nearest site where the ion is within ``core_radius_A`` of it, else the site it was
    last on (the nearest site in the first frame)."""
    return _site_assignment(positions_A, cell_A, sites_A, core_radius_A)[0]


def cage_shell_offset_A(positions_A: np.ndarray, cell_A: np.ndarray, lattice: dict) -> float:
    """Median distance of the ions ``positions_A`` (ions x 3) from the shell of their nearest cage (the
    sphere through its 48h sites) of ``lattice`` (:func:`argyrodite_sites`)."""
    shell = float(np.median(np.linalg.norm(lattice["positions_A"]
                                           - lattice["cage_centres_A"][lattice["cage"]], axis=1)))
    _, d, _ = _two_nearest(positions_A, lattice["cage_centres_A"], cell_A)
    return float(np.median(np.abs(d - shell)))


def fraction_on_site(positions_A: np.ndarray, cell_A: np.ndarray, sites_A: np.ndarray,
                     core_radius_A: float = CORE_RADIUS_A) -> float:
    """Share of the ion-frames of ``positions_A`` (..., 3) within ``core_radius_A`` of one of ``sites_A``
    (minimum image): the ``fraction_on_site`` of :func:`jump_statistics`."""
    return float(np.mean(_two_nearest(positions_A, sites_A, cell_A)[1] <= core_radius_A))


def assign_cages(positions_A: np.ndarray, cell_A: np.ndarray, centres_A: np.ndarray,
                 margin_A: float = CAGE_MARGIN_A) -> np.ndarray:
    """Cage of each ion in each frame (frames x ions): the nearest cage centre where it is nearer than
    the second nearest by more than ``margin_A``, else the cage it was last in (an ion on the way between
    two cages changes cage once it is clearly in the new one)."""
    idx, first, second = _two_nearest(positions_A, centres_A, cell_A)
    return _hold(idx, second - first > margin_A)


def _hold(nearest: np.ndarray, sure: np.ndarray) -> np.ndarray:
    """``nearest`` (frames x ions) where ``sure``, else the value of the frame before (the first frame as is)."""
    out = np.empty_like(nearest)
    out[0] = nearest[0]
    for k in range(1, len(nearest)):
        out[k] = np.where(sure[k], nearest[k], out[k - 1])
    return out


def count_jumps(site_of: np.ndarray, cage_of: np.ndarray, pair: np.ndarray, site_cage: np.ndarray
                ) -> dict[str, np.ndarray]:
    """Jumps per :data:`KINDS` from :func:`assign_sites` and :func:`assign_cages` (frames x ions each):
    doublet and intracage jumps are site changes between two sites of one cage (``site_cage``), to the
    ``pair`` partner or not; intercage jumps are cage changes. ``counts`` (3,) and ``per_ion`` (ions x 3)."""
    before, after = site_of[:-1], site_of[1:]
    within = (before != after) & (site_cage[before] == site_cage[after])
    doublet = within & (pair[before] == after)
    per_ion = np.stack([doublet.sum(axis=0), (within & ~doublet).sum(axis=0),
                        (cage_of[1:] != cage_of[:-1]).sum(axis=0)], axis=1)
    return {"counts": per_ion.sum(axis=0), "per_ion": per_ion}


def jump_statistics(positions_A: np.ndarray, cell_A: np.ndarray, dt_ps: float, supercell, halide: str = "Cl",
                    core_radius_A: float = CORE_RADIUS_A) -> dict:
    """Jumps of the ions of ``positions_A`` (frames x ions x 3, sampled every ``dt_ps``) on the 48h
    lattice of a diagonal ``supercell`` of the argyrodite cell ``cell_A``: ``counts`` (per :data:`KINDS`),
    ``rate_per_ps`` (jumps per ion and ps), ``rate_err_per_ps`` (Poisson: sqrt(count) / (ions x time)),
    ``D_cage_m2_per_s`` and its error (the random walk of cage changes), ``cage_distance_A``, ``duration_ps``,
    ``n_ions``, ``fraction_on_site`` (share of ion-frames within ``core_radius_A`` of a site: ions spread over
    their cages rather than on its sites make few site jumps, while their cage changes still count).
    ``ValueError`` when the first frame's ions lie further than :data:`MAX_CAGE_SHELL_OFFSET_A` (median) off
    the shells of their cages: not this lattice."""
    cell = np.asarray(cell_A, dtype=float)
    lat = argyrodite_sites(cell, supercell, halide)
    x = np.asarray(positions_A, dtype=float)
    off = cage_shell_offset_A(x[0], cell, lat)
    if off > MAX_CAGE_SHELL_OFFSET_A:
        raise ValueError(f"the ions lie {off:.2f} A (median) off the shells of the 48h cages in the first frame: not "
                         f"this site lattice (limit {MAX_CAGE_SHELL_OFFSET_A} A)")
    site_of, dist = _site_assignment(x, cell, lat["positions_A"], core_radius_A)
    cage_of = assign_cages(x, cell, lat["cage_centres_A"])
    c = count_jumps(site_of, cage_of, lat["pair"], lat["cage"])
    n_ions, duration = x.shape[1], dt_ps * (len(x) - 1)
    exposure = n_ions * duration
    counts = c["counts"].astype(float)
    rate = counts / exposure
    rate_err = np.sqrt(counts) / exposure
    dcc = lat["cage_distance_A"]
    to_m2_per_s = 1e-20 / 1e-12
    return {"counts": c["counts"], "per_ion": c["per_ion"], "rate_per_ps": rate, "rate_err_per_ps": rate_err,
            "D_cage_m2_per_s": rate[2] * dcc ** 2 / 6.0 * to_m2_per_s,
            "D_cage_err_m2_per_s": rate_err[2] * dcc ** 2 / 6.0 * to_m2_per_s,
            "cage_distance_A": dcc, "duration_ps": duration, "n_ions": n_ions,
            "fraction_on_site": float(np.mean(dist <= core_radius_A))}
