"""MaxVol active sets and extrapolation grades (D-optimality), as in MLIP's active learning.

The *active set* is a square matrix ``A`` (m x m) of rows chosen from all seen rows (one row per
atomic neighbourhood in neighbourhood mode: the per-atom basis values B_alpha(i), i.e. the
derivative of the site energy with respect to the linear coefficients; or one row per
configuration in configuration mode: the sum of those rows over the atoms) so that |det A| is
(locally) maximal. The *grade* of a new row ``x`` is ``gamma = max_j |(x A^-1)_j|``: gamma <= 1
means interpolation (x is inside the parallelotope spanned by the active rows), gamma > 1
extrapolation.

Plain functions on numpy arrays; no I/O.
"""

from __future__ import annotations

import numpy as np


def grades(rows: np.ndarray, active_inv: np.ndarray) -> np.ndarray:
    """Extrapolation grade of each row: max_j |(row @ A^-1)_j|."""
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    return np.abs(rows @ active_inv).max(axis=1)


def maxvol(rows: np.ndarray, tol: float = 1.0 + 1e-6, max_iterations: int = 10_000) -> np.ndarray:
    """Indices of ``m`` rows of the (n x m, n >= m, full column rank) matrix with locally maximal
    |det|: afterwards every row's coefficients in the chosen rows are at most ``tol`` in modulus."""
    import scipy.linalg

    B = np.asarray(rows, dtype=float)
    n, m = B.shape
    if n < m:
        raise ValueError(f"maxvol needs at least as many rows as columns (got {n} x {m})")
    # good start: rows picked by QR with column pivoting of B^T
    _, _, piv = scipy.linalg.qr(B.T, mode="economic", pivoting=True)
    idx = np.array(piv[:m])
    A = B[idx]
    if np.linalg.matrix_rank(A) < m:
        raise ValueError("rows do not span the basis (rank deficient); use ActiveSet for incremental selection")
    C = np.linalg.solve(A.T, B.T).T  # C = B A^-1 (n x m)
    for _ in range(max_iterations):
        i, j = np.unravel_index(np.argmax(np.abs(C)), C.shape)
        if abs(C[i, j]) <= tol:
            break
        # swap active row j for row i: rank-one update of C
        cj = C[:, j].copy()
        ri = C[i, :].copy()
        ri[j] -= 1.0
        C -= np.outer(cj, ri) / C[i, j]
        idx[j] = i
    return idx


class ActiveSet:
    """An incrementally maintained MaxVol active set with its inverse.

    Starts from ``eps * I`` (so directions never seen have huge grades) and swaps candidate
    rows in greedily (largest coefficient first) while a swap grows |det A| by more than the
    factor ``threshold``.
    """

    def __init__(self, n_basis: int, eps: float = 1e-6):
        self.rows = eps * np.eye(n_basis)
        self.inverse = np.eye(n_basis) / eps
        self.filled = np.zeros(n_basis, dtype=bool)   # True where the row came from real data
        self.labels: list = [None] * n_basis           # caller's identifier of each active row

    @property
    def n_basis(self) -> int:
        return self.rows.shape[0]

    def grades(self, rows: np.ndarray) -> np.ndarray:
        return grades(rows, self.inverse)

    def _swap(self, j: int, x: np.ndarray) -> None:
        # A' = A + e_j (x - a_j)^T; Sherman-Morrison on the inverse
        d = x - self.rows[j]
        Ainv = self.inverse
        u = Ainv[:, j]
        v = d @ Ainv
        self.inverse = Ainv - np.outer(u, v) / (1.0 + v[j])
        self.rows[j] = x

    def update(self, candidates: np.ndarray, threshold: float = 1.0 + 1e-3, max_select: int | None = None,
               labels: list | None = None) -> list[int]:
        """Swap candidate rows into the active set while their coefficient exceeds ``threshold``
        (at most ``max_select`` distinct candidates); returns the candidates now in the set."""
        X = np.atleast_2d(np.asarray(candidates, dtype=float))
        slot_of: dict[int, int] = {}  # active slot -> candidate index currently in it
        cap = len(X) if max_select is None else int(max_select)
        for _ in range(100 * self.n_basis + len(X)):
            absC = np.abs(X @ self.inverse)
            absC[list(slot_of.values()), :] = 0.0     # candidates already inside
            if len(slot_of) >= cap:                    # at capacity: only re-use their slots
                mask = np.zeros(self.n_basis, dtype=bool)
                mask[list(slot_of)] = True
                absC[:, ~mask] = 0.0
            i, j = np.unravel_index(np.argmax(absC), absC.shape)
            if absC[i, j] <= threshold:
                break
            self._swap(j, X[i])
            slot_of[j] = i
            self.filled[j] = True
            if labels is not None:
                self.labels[j] = labels[i]
        return sorted(set(slot_of.values()))

    def log_abs_det(self) -> float:
        return float(np.linalg.slogdet(self.rows)[1])
