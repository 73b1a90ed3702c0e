"""The moment-tensor engine shared by evaluation (``evaluate.py``) and training (``train.py``):
vectorised per-configuration geometry (:class:`Frame`), the index tables of an MTP
(:class:`MomentTables`), design rows and radial-coefficient gradients.

For a fixed configuration, everything that does not depend on the coefficients is computed once
(:class:`Frame`: neighbour pairs, Chebyshev radial basis times the smoothing factor
``scaling * (max_dist - r)^2`` and their r-derivatives, unit-vector monomials of the basic moments
and their derivatives). Per training iteration only cheap contractions with the current radial
coefficients remain.

Notation (MLIP formalism): pair p = (i, j) with r_p = x_j - x_i, d_p = |r_p|, u_p = r_p / d_p;
basic moment a = (mu_a, nx, ny, nz):  m_i[a] = sum_p f_mu_a(d_p) u_x^nx u_y^ny u_z^nz with
f_mu(d) = sum_b c[t_i, t_j, mu, b] Q_b(d); further moments by ``alpha_index_times`` rows
(k1, k2, mult, k3): M[k3] += mult M[k1] M[k2]; site energy
E_i = species_coeffs[t_i] + sum_k moment_coeffs[k] M_i[alpha_moment_mapping[k]].

The energy is linear in theta = (species_coeffs, moment_coeffs): :func:`design` gives the rows.
For the radial coefficients :func:`radial_gradient` returns d/dc of
``sum_i a_i dE/dm_basic ...``: precisely, with fixed theta, the gradient of
``sum_c 2 wE_c rE_c E_c + D_c`` where ``D_c = sum_p dE/dr_p . w_p`` is the directional derivative
of the energy along pair displacements ``w_p`` (this covers force and stress residuals; see
``train.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from argyro_run.potentials.cfg import element_types

PAIR_CHUNK_ELEMENTS = 4_000_000     # pairs x scalar x basic moments handled at once in design()


@dataclass
class MomentTables:
    """The coefficient-independent description of an MTP (shapes and index tables)."""

    S: int
    R: int
    B: int
    min_dist: float
    max_dist: float
    scaling: float
    basic: np.ndarray      # (nb, 4) int
    times: np.ndarray      # (nt, 4) int
    mapping: np.ndarray    # (ns,) int
    n_alpha: int
    levels: list = None    # alpha_index_times rows grouped by depth (see _levels)

    def __post_init__(self):
        if self.levels is None:
            self.levels = _levels(self.times, self.nb, self.n_alpha)

    @classmethod
    def of(cls, mtp) -> "MomentTables":
        basic = np.asarray(mtp.alpha_index_basic, dtype=int).reshape(-1, 4)
        times = np.asarray(mtp.alpha_index_times, dtype=int).reshape(-1, 4)
        return cls(S=len(np.asarray(mtp.species_coeffs)), R=int(mtp.radial_funcs_count),
                   B=int(mtp.radial_basis_size), min_dist=float(mtp.min_dist_A),
                   max_dist=float(mtp.max_dist_A), scaling=float(mtp.scaling), basic=basic, times=times,
                   mapping=np.asarray(mtp.alpha_moment_mapping, dtype=int).ravel(),
                   n_alpha=int(mtp.alpha_moments_count))

    @property
    def mu_of_basic(self) -> np.ndarray:
        return self.basic[:, 0]

    @property
    def nb(self) -> int:
        return len(self.basic)

    @property
    def ns(self) -> int:
        return len(self.mapping)

    @property
    def n_lin(self) -> int:
        return self.S + self.ns

    @property
    def n_radial(self) -> int:
        return self.S * self.S * self.R * self.B


@dataclass
class _Level:
    """Rows of ``alpha_index_times`` whose inputs are all computed at lower depth."""

    k1: np.ndarray
    k2: np.ndarray
    mult: np.ndarray
    k3: np.ndarray
    out: np.ndarray       # distinct k3
    sel: np.ndarray       # (rows, len(out)) one-hot: row -> its k3 among ``out``
    sel12: np.ndarray     # (2 rows, n_alpha) one-hot of k1 rows then k2 rows


def _levels(times: np.ndarray, nb: int, n_alpha: int) -> list:
    depth = np.zeros(n_alpha, dtype=int)
    for _ in range(len(times) + 1):   # one pass when rows come in dependency order (MLIP's files)
        before = depth.copy()
        for k1, k2, _, k3 in times:
            depth[k3] = max(depth[k3], max(depth[k1], depth[k2]) + 1)
        if np.array_equal(before, depth):
            break
    else:
        raise ValueError("alpha_index_times has a cycle")
    levels = []
    row_depth = depth[times[:, 3]] if len(times) else np.zeros(0, int)
    for d in range(1, int(depth.max(initial=0)) + 1):
        rows = times[row_depth == d]
        if not len(rows):
            continue
        k1, k2, mult, k3 = rows.T
        out, inv = np.unique(k3, return_inverse=True)
        sel = np.zeros((len(rows), len(out)))
        sel[np.arange(len(rows)), inv] = 1.0
        sel12 = np.zeros((2 * len(rows), n_alpha))
        sel12[np.arange(len(rows)), k1] = 1.0
        sel12[len(rows) + np.arange(len(rows)), k2] = 1.0
        levels.append(_Level(k1, k2, mult.astype(float), k3, out, sel, sel12))
    return levels


def atom_types(mtp, atoms) -> np.ndarray:
    """MTP type index of every atom: position of its element in ``mtp.species``; for potentials
    without species (plain MLIP files) the ``mtp_type`` per-atom array, else the atomic numbers
    taken as type indices (how untyped .cfg data is read)."""
    species = getattr(mtp, "species", None)
    S = len(np.asarray(mtp.species_coeffs))
    if species:
        return element_types(atoms, species)
    for key in ("mtp_type", "type"):
        if key in atoms.arrays:
            t = np.asarray(atoms.arrays[key], dtype=int)
            break
    else:
        t = np.asarray(atoms.numbers, dtype=int)
    if t.size and (t.min() < 0 or t.max() >= S):
        raise ValueError(f"atom types {sorted(set(t.tolist()))} out of range for {S} species")
    return t


def _orthorhombic_short(cell: np.ndarray, cutoff: float) -> bool:
    """An orthorhombic cell whose every length exceeds twice the cutoff: each pair then lies
    within the cutoff in at most one periodic image (the minimum image)."""
    return bool(np.allclose(cell - np.diag(np.diag(cell)), 0.0, atol=1e-9) and cutoff < 0.5 * np.diag(cell).min())


def _pairs_kdtree(pos: np.ndarray, lengths: np.ndarray, cutoff: float):
    """:func:`pairs_within` for a large orthorhombic cell (``_orthorhombic_short``): scipy's
    periodic k-d tree finds the pairs, the minimum image gives r_ij."""
    from scipy.spatial import cKDTree

    x = np.mod(pos, lengths)
    x[x >= lengths] = 0.0                    # mod can round up to the length itself
    ij = cKDTree(x, boxsize=lengths).query_pairs(cutoff, output_type="ndarray")
    a, b = ij[:, 0], ij[:, 1]
    D = x[b] - x[a]
    D -= lengths * np.round(D / lengths)
    keep = np.einsum("px,px->p", D, D) < cutoff * cutoff        # the tree's test is <=
    a, b, D = a[keep], b[keep], D[keep]
    i, j, D = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([D, -D])
    order = np.lexsort((j, i))
    return i[order], j[order], D[order]


def pairs_within(atoms, cutoff: float, max_work: int = 4_000_000):
    """All ordered pairs (i, j, r_ij = x_j - x_i + shift) with |r_ij| < cutoff, periodic images
    included along periodic directions. Brute force over the needed cell shifts for small cells,
    scipy's periodic k-d tree for large orthorhombic ones (~20x faster than ASE's list for 416
    atoms), ASE's neighbour list otherwise."""
    n = len(atoms)
    if n == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros((0, 3))
    pbc = np.asarray(atoms.pbc, bool)
    cell = np.asarray(atoms.cell[:], float)
    pos = np.asarray(atoms.positions, float)
    reps = np.zeros(3, int)
    if pbc.any():
        rank = np.linalg.matrix_rank(cell[pbc]) if pbc.any() else 0
        if rank < pbc.sum():
            raise ValueError("periodic directions need non-degenerate cell vectors")
        if pbc.all():
            recip = np.linalg.inv(cell).T          # rows: reciprocal vectors / (2 pi)
            frac = pos @ np.linalg.inv(cell)
            frac -= np.floor(frac)
            pos = frac @ cell
            # wrapped positions differ by less than one cell vector in fractional coordinates, so an
            # image within the cutoff has |shift_k| < 1 + cutoff / width_k (width_k = 1 / |recip_k|)
            reps = np.floor(cutoff * np.linalg.norm(recip, axis=1)).astype(int) + 1
        else:
            from ase.neighborlist import neighbor_list

            return neighbor_list("ijD", atoms, cutoff)
    shifts = np.array(np.meshgrid(*[np.arange(-r, r + 1) for r in reps], indexing="ij")).reshape(3, -1).T
    if n * n * len(shifts) > max_work and pbc.all() and _orthorhombic_short(cell, cutoff):
        return _pairs_kdtree(pos, np.diag(cell).copy(), cutoff)
    if n * n * len(shifts) > max_work:
        from ase.neighborlist import neighbor_list

        return neighbor_list("ijD", atoms, cutoff)
    svec = shifts @ cell
    out_i, out_j, out_D = [], [], []
    base = pos[None, :, :] - pos[:, None, :]                       # (i, j, 3): x_j - x_i
    for sv, sh in zip(svec, shifts):
        D = base + sv
        d2 = np.einsum("ijx,ijx->ij", D, D)
        mask = d2 < cutoff * cutoff
        if not sh.any():
            np.fill_diagonal(mask, False)
        ii, jj = np.nonzero(mask)
        out_i.append(ii)
        out_j.append(jj)
        out_D.append(D[ii, jj])
    i = np.concatenate(out_i)
    j = np.concatenate(out_j)
    D = np.concatenate(out_D)
    order = np.lexsort((j, i))
    return i[order], j[order], D[order]


class Frame:
    """Coefficient-independent precomputation for one configuration."""

    def __init__(self, basis: MomentTables, atoms, types: np.ndarray):
        self.n = n = len(atoms)
        self.types = types
        self.pbc = bool(np.all(atoms.pbc))
        self.volume = float(atoms.get_volume()) if self.pbc else None
        i, j, D = pairs_within(atoms, basis.max_dist)
        d = np.linalg.norm(D, axis=1)
        keep = d < basis.max_dist
        i, j, D, d = i[keep], j[keep], D[keep], d[keep]
        self.i, self.j, self.r, self.d = i, j, D, d
        P = len(d)
        self.P = P
        u = D / d[:, None] if P else np.zeros((0, 3))
        self.u = u
        S, B = basis.S, basis.B
        self.pt = types[i] * S + types[j] if P else np.zeros(0, dtype=int)
        # radial basis Q_b(d) = scaling (max - d)^2 T_b(xi) and dQ/dd
        lo, hi = basis.min_dist, basis.max_dist
        xi = (2.0 * d - (lo + hi)) / (hi - lo)
        dxi = 2.0 / (hi - lo)
        T = np.zeros((P, B))
        dT = np.zeros((P, B))
        T[:, 0] = 1.0
        if B > 1:
            T[:, 1] = xi
            dT[:, 1] = dxi
        for b in range(2, B):
            T[:, b] = 2.0 * xi * T[:, b - 1] - T[:, b - 2]
            dT[:, b] = 2.0 * (dxi * T[:, b - 1] + xi * dT[:, b - 1]) - dT[:, b - 2]
        sm = basis.scaling * (hi - d) ** 2
        dsm = -2.0 * basis.scaling * (hi - d)
        self.Q = T * sm[:, None]
        self.dQ = dT * sm[:, None] + T * dsm[:, None]
        # monomials of the unit vector and their derivative with respect to r_p
        mu, nx, ny, nz = basis.basic.T
        pw = basis.basic[:, 1:]
        maxp = int(pw.max()) if pw.size else 0
        upow = np.ones((maxp + 1, P, 3))
        for k in range(1, maxp + 1):
            upow[k] = upow[k - 1] * u
        mono = upow[nx, :, 0] * upow[ny, :, 1] * upow[nz, :, 2]          # (nb, P)
        gu = np.zeros((basis.nb, P, 3))                                  # d mono / d u
        gu[..., 0] = nx[:, None] * upow[np.maximum(nx - 1, 0), :, 0] * upow[ny, :, 1] * upow[nz, :, 2]
        gu[..., 1] = ny[:, None] * upow[nx, :, 0] * upow[np.maximum(ny - 1, 0), :, 1] * upow[nz, :, 2]
        gu[..., 2] = nz[:, None] * upow[nx, :, 0] * upow[ny, :, 1] * upow[np.maximum(nz - 1, 0), :, 2]
        k = (nx + ny + nz).astype(float)
        dmono = (gu - (k[:, None] * mono)[..., None] * u[None]) / np.where(d > 0, d, 1.0)[None, :, None]
        self.mono = np.ascontiguousarray(mono.T)                         # (P, nb)
        self.dmono = np.ascontiguousarray(dmono.transpose(1, 0, 2))      # (P, nb, 3)
        self.mu = mu
        ones = np.ones(P)
        self.sum_i = sp.csr_matrix((ones, (i, np.arange(P))), shape=(n, P))        # pair -> centre atom
        self.incidence = sp.csr_matrix((np.concatenate([ones, -ones]),
                                        (np.concatenate([j, i]), np.concatenate([np.arange(P)] * 2))),
                                       shape=(n, P)).tocsc()                         # dE/dx = inc @ dE/dr
        self.sum_pt = sp.csr_matrix((ones, (self.pt, np.arange(P))), shape=(S * S, P))
        self.counts = np.bincount(types, minlength=S).astype(float)

    # --- per-iteration quantities ---------------------------------------------------------------

    def moments(self, basis: MomentTables, c: np.ndarray):
        """Basic moments and their pair derivatives, all moments, and the Jacobian of the
        scalar moments with respect to the basic ones, for radial coefficients ``c``."""
        C = c.reshape(basis.S * basis.S, basis.R, basis.B)[self.pt]        # (P, R, B)
        f = np.matmul(C, self.Q[:, :, None])[..., 0]
        df = np.matmul(C, self.dQ[:, :, None])[..., 0]
        fa, dfa = f[:, self.mu], df[:, self.mu]                              # (P, nb)
        v = fa * self.mono
        dv = (dfa * self.mono)[..., None] * self.u[:, None, :] + fa[..., None] * self.dmono   # (P, nb, 3)
        m = self.sum_i @ v                                                    # (n, nb)
        M = np.zeros((self.n, basis.n_alpha))
        M[:, :basis.nb] = m
        J = np.zeros((self.n, basis.n_alpha, basis.nb))
        J[:, np.arange(basis.nb), np.arange(basis.nb)] = 1.0
        for lv in basis.levels:
            M1, M2 = M[:, lv.k1], M[:, lv.k2]
            M[:, lv.out] += (lv.mult * M1 * M2) @ lv.sel
            CJ = lv.mult[None, :, None] * (J[:, lv.k1] * M2[:, :, None] + M1[:, :, None] * J[:, lv.k2])
            J[:, lv.out] += np.matmul(CJ.transpose(0, 2, 1), lv.sel).transpose(0, 2, 1)
        return m, dv, M, J

    def design(self, basis: MomentTables, M: np.ndarray, J: np.ndarray, dv: np.ndarray):
        """Rows of E, F and stress (eV/A^3, Voigt, ASE sign) linear in theta."""
        nl, ns, S = basis.n_lin, basis.ns, basis.S
        Js = J[:, basis.mapping, :]                                          # (n, ns, nb)
        e_row = np.zeros(nl)
        e_row[:S] = self.counts
        e_row[S:] = M[:, basis.mapping].sum(axis=0)
        # dE/dr_p of every basis function, in chunks of pairs (bounded memory for large cells)
        dEdx = np.zeros((self.n, ns * 3))
        W = np.zeros((ns * 3, 3))
        step = max(1, PAIR_CHUNK_ELEMENTS // max(1, ns * basis.nb))
        for lo in range(0, self.P, step):
            hi = min(self.P, lo + step)
            G = np.matmul(Js[self.i[lo:hi]], dv[lo:hi]).reshape(hi - lo, ns * 3)
            dEdx += (self.incidence if hi - lo == self.P else self.incidence[:, lo:hi]) @ G
            if self.pbc:
                W += G.T @ self.r[lo:hi]
        f_rows = np.zeros((self.n, 3, nl))
        f_rows[:, :, S:] = -dEdx.reshape(self.n, ns, 3).transpose(0, 2, 1)
        s_rows = None
        if self.pbc:
            W = W.reshape(ns, 3, 3) / self.volume
            s_rows = np.zeros((6, nl))
            s_rows[0, S:], s_rows[1, S:], s_rows[2, S:] = W[:, 0, 0], W[:, 1, 1], W[:, 2, 2]
            s_rows[3, S:] = 0.5 * (W[:, 1, 2] + W[:, 2, 1])
            s_rows[4, S:] = 0.5 * (W[:, 0, 2] + W[:, 2, 0])
            s_rows[5, S:] = 0.5 * (W[:, 0, 1] + W[:, 1, 0])
        return e_row, f_rows, s_rows

    def radial_gradient(self, basis: MomentTables, c: np.ndarray, moment_coeffs: np.ndarray, M: np.ndarray,
                        J: np.ndarray, dv: np.ndarray, energy_factor: float, w_pairs: np.ndarray) -> np.ndarray:
        """d/dc [energy_factor * E + sum_p dE/dr_p . w_p] at fixed theta; shape of ``c``."""
        nb = basis.nb
        # tangent of the basic moments along the pair displacements
        mt = self.sum_i @ np.matmul(dv, w_pairs[:, :, None])[..., 0]          # (n, nb)
        Mt = np.matmul(J, mt[:, :, None])[..., 0]                             # tangent of all moments
        adj = np.zeros((self.n, basis.n_alpha))
        adjt = np.zeros((self.n, basis.n_alpha))
        np.add.at(adj, (slice(None), basis.mapping), np.broadcast_to(moment_coeffs, (self.n, basis.ns)))
        for lv in basis.levels[::-1]:
            a3, t3 = lv.mult * adj[:, lv.k3], lv.mult * adjt[:, lv.k3]
            M1, M2 = M[:, lv.k1], M[:, lv.k2]
            adj += np.concatenate([a3 * M2, a3 * M1], axis=1) @ lv.sel12
            adjt += np.concatenate([t3 * M2 + a3 * Mt[:, lv.k2], t3 * M1 + a3 * Mt[:, lv.k1]], axis=1) @ lv.sel12
        g, h = adj[:, :nb], adjt[:, :nb]                                      # dE_i/dm, H m'
        A = h + energy_factor * g
        gi = g[self.i]
        X = A[self.i] * self.mono + gi * np.matmul(self.dmono, w_pairs[:, :, None])[..., 0]
        Y = gi * self.mono * np.sum(self.u * w_pairs, axis=1)[:, None]
        onehot = np.zeros((nb, basis.R))
        onehot[np.arange(nb), basis.mu_of_basic] = 1.0
        Xm, Ym = X @ onehot, Y @ onehot                                        # (P, R)
        per_pair = Xm[:, :, None] * self.Q[:, None, :] + Ym[:, :, None] * self.dQ[:, None, :]
        grad = self.sum_pt @ per_pair.reshape(self.P, basis.R * basis.B)
        return grad.reshape(c.shape)
