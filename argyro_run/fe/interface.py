"""Periodic homogenisation with grain boundaries as thin interfaces on a cut P1 mesh (dolfinx + PETSc).

The mesh (from :mod:`argyro_run.microstructure.conforming`) is in units of the grain size d and
cut along the GBs: every GB node has one copy per grain. Bilinear form (units of D_bulk, lengths
in d; derivation in docs/fe.md)::

    B(u, v) = sum_grains int grad u . grad v dx
              + sum_faces k_n int_F [u][v] ds                       (R > R_tie: normal resistance)
              + sum_faces k_t int_F grad_G c_G(u) . grad_G c_G(v) ds  (tangential excess conduction)
              - sum_faces R int_F (n . grad <u>)(n . grad <v>) ds   (R <= R_tie, e.g. R < 0: first order)

with ``[u] = u_a - u_b``, ``<u> = (u_a + u_b) / 2``, c_G(u) the GB network value (at every uncut
node the mean of all its grain copies, so the network is connected through junctions),
``k_t = (delta/d) (D_par/D_b - 1)``, ``R = (delta/d) (D_b/D_perp - 1)`` and ``k_n = 1/R``. Faces with
R <= R_tie = ``TIE_R_PER_H`` times the mean GB facet size keep one value per node (their node
copies are identified, like periodic images, in the prolongation ``P``). A negative k_t is a
per-grain bulk tensor ``dD_g`` instead (see docs/fe.md).

All terms are assembled into one PETSc matrix through COO preallocation (bulk stiffness from
dolfinx on every rank's own rows; the interface element blocks on rank 0), so a new grain size or
temperature only rewrites the matrix values. ``c = G.x + w`` with w periodic; the coordinate
functions x_i are exact in P1 and continuous across the cut, hence
``D_eff[i, j] = x_i^T A (x_j + w_j) / V`` and the load vectors are ``-A x_j``.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from argyro_run._stack import dolfinx_modules

log = logging.getLogger(__name__)

# a face whose excess normal resistance R (units of d / D_bulk) is below TIE_R_PER_H times the mean GB
# facet size keeps its node copies identified and takes R through the first-order normal term
# -R int (n . grad <u>)^2 (which differs from the jump by O(R^2/h)); a jump with k_n = 1/R >> 1/h
# would make the system stiff (D_eff lost ~1e-3 of its 1/d part at d/delta = 1e5)
TIE_R_PER_H = 0.01


def _facet_mass(k: int, meas: np.ndarray) -> np.ndarray:
    """P1 mass matrices of k-simplices with measures ``meas``: (m, k+1, k+1)."""
    base = (np.ones((k + 1, k + 1)) + np.eye(k + 1)) / ((k + 1) * (k + 2))
    return meas[:, None, None] * base[None]


def _facet_stiffness(verts: np.ndarray, meas: np.ndarray) -> np.ndarray:
    """Tangential (Laplace-Beltrami) P1 stiffness of simplices embedded in R^n: verts (m, k+1, n)."""
    E = verts[:, 1:] - verts[:, :1]  # (m, k, n)
    Ginv = np.linalg.inv(np.einsum("mik,mjk->mij", E, E))
    k = E.shape[1]
    B = np.vstack([-np.ones((1, k)), np.eye(k)])  # (k+1, k)
    return meas[:, None, None] * np.einsum("ai,mij,bj->mab", B, Ginv, B)


def _cell_gradients(verts: np.ndarray) -> np.ndarray:
    """Gradients of the P1 basis functions of simplices verts (m, dim+1, dim): (m, dim+1, dim)."""
    E = verts[:, 1:] - verts[:, :1]  # (m, dim, dim)
    dim = E.shape[1]
    B = np.vstack([-np.ones((1, dim)), np.eye(dim)])
    # grad lambda_i = E^-1 columns: rows of (E^-1)^T; lambda_0 = 1 - sum
    return np.einsum("ai,mji->maj", B, np.linalg.inv(E))


def _facet_normals(verts: np.ndarray) -> np.ndarray:
    E = verts[:, 1:] - verts[:, :1]
    if E.shape[2] == 2:
        n = np.stack([-E[:, 0, 1], E[:, 0, 0]], 1)
    else:
        n = np.cross(E[:, 0], E[:, 1])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


class InterfaceHomogenizer:
    """Built once per cut mesh (collective); :meth:`solve` for each set of face coefficients."""

    def __init__(self, points, cells, grain_id, node_origin, facet_nodes, facet_cells, facet_face, n_faces: int,
                 box: float, comm, *, rtol: float = 1e-10, node_image=None):
        """Arrays are needed on rank 0 only (others may pass None); ``box`` is the edge in units of d."""
        import ufl

        from argyro_run.fe.polycrystal import dolfinx_mesh

        dolfinx, PETSc = dolfinx_modules()

        t0 = time.perf_counter()
        self.comm, self.rtol, self.n_faces, self.box = comm, float(rtol), int(n_faces), float(box)
        self.PETSc = PETSc
        mesh = dolfinx_mesh(points, cells, comm)
        self.dim = dim = mesh.geometry.dim
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        im = V.dofmap.index_map
        self.n_own, self.n_dofs = im.size_local, im.size_global
        r0 = comm.exscan(self.n_own) or 0
        self.ranges = comm.allgather((r0, r0 + self.n_own))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        # bulk stiffness with a per-grain tensor (I, or I + dD_g for a negative tangential excess)
        self._Dt = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0, (dim, dim))))
        self._bulk_form = dolfinx.fem.form(ufl.inner(self._Dt * ufl.grad(u), ufl.grad(v)) * ufl.dx)
        gid = comm.bcast(np.asarray(grain_id) if comm.rank == 0 else None, root=0)
        from argyro_run.fe.homogenize import cell_values_from_original

        self._cell_grain = cell_values_from_original(mesh, gid)
        self.n_grains = int(gid.max()) + 1
        self._Dt_dofs = self._Dt.function_space.dofmap.list[:, 0]
        indptr, cols, vals = self._assemble_bulk(np.zeros((self.n_grains, dim, dim)))
        brow = r0 + np.repeat(np.arange(self.n_own), np.diff(indptr))
        # input node -> global dof
        gdm = mesh.geometry.dofmaps[0]
        vdm = V.dofmap.list
        loc_dof = np.empty(len(mesh.geometry.x), dtype=np.int64)
        loc_dof[gdm.ravel()] = vdm.ravel()
        inp = np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)
        own = loc_dof < self.n_own
        gl = im.local_to_global(loc_dof[own].astype(np.int32))
        pairs = comm.gather((inp[own], gl), root=0)
        X = V.tabulate_dof_coordinates()[: self.n_own, :dim]
        self.X = [self._vec(X[:, i]) for i in range(dim)]
        rows_i = cols_i = np.zeros(0, dtype=np.int64)
        self._red_cache = {}
        if comm.rank == 0:
            n_in = len(points)
            g_of = np.full(n_in, -1, dtype=np.int64)
            for a, b in pairs:
                g_of[a] = b
            if np.any(g_of < 0):
                raise RuntimeError("input node without a dof")
            self._g_of = g_of
            self._node_origin = np.asarray(node_origin)
            self._node_image = (np.zeros((len(points), 0), dtype=np.int64) if node_image is None
                                else np.asarray(node_image, dtype=np.int64).reshape(len(points), -1))
            self._prepare_rank0(np.asarray(points, float), np.asarray(cells), np.asarray(grain_id),
                                np.asarray(facet_nodes), np.asarray(facet_cells), np.asarray(facet_face))
            rows_i, cols_i = self._coo_rows, self._coo_cols
        self._bulk_vals = vals
        A = PETSc.Mat().create(comm=comm)
        A.setSizes(((self.n_own, self.n_dofs), (self.n_own, self.n_dofs)))
        A.setType("aij")
        A.setPreallocationCOO(np.concatenate([brow, rows_i]).astype(PETSc.IntType),
                              np.concatenate([cols, cols_i]).astype(PETSc.IntType))
        self.A = A
        self.h_gb = comm.bcast(getattr(self, "h_gb", None), root=0)
        self.setup_s = time.perf_counter() - t0

    def _assemble_bulk(self, dD):
        """Local CSR of the bulk stiffness with tensor I + dD[grain] (the same pattern on every call)."""
        from dolfinx.fem import petsc as fpetsc

        arr = self._Dt.x.array.reshape(-1, self.dim * self.dim)
        arr[self._Dt_dofs] = (np.eye(self.dim)[None] + dD[self._cell_grain]).reshape(-1, self.dim * self.dim)
        self._Dt.x.scatter_forward()
        K = fpetsc.assemble_matrix(self._bulk_form)
        K.assemble()
        out = K.getValuesCSR()
        K.destroy()
        return out

    def _vec(self, local_values):
        x = self.PETSc.Vec().createMPI((self.n_own, self.n_dofs), comm=self.comm)
        x.array[:] = local_values
        return x

    def _prepare_rank0(self, points, cells, grain_id, facet_nodes, facet_cells, facet_face):
        dim = self.dim
        g = self._g_of
        self._points, self._grain_of_node = points, np.empty(len(points), dtype=np.int64)
        self._grain_of_node[cells.ravel()] = np.repeat(grain_id, dim + 1)
        self._facet_nodes, self._facet_face = facet_nodes, facet_face
        fa = facet_nodes[:, 0]
        verts = points[fa]
        meas = np.sqrt(np.abs(np.linalg.det(np.einsum("mik,mjk->mij", verts[:, 1:] - verts[:, :1],
                                                      verts[:, 1:] - verts[:, :1])))) / (1.0 if dim == 2 else 2.0)
        self.h_gb = float(np.mean(meas) ** (1.0 / (dim - 1))) if len(meas) else 1.0
        M = _facet_mass(dim - 1, meas)
        S = _facet_stiffness(verts, meas)
        nf = len(fa)
        blocks = []  # (global rows (m, k), base element matrices (m, k, k), face per element, coefficient kind)
        # jump over (side a nodes, side b nodes): [[M, -M], [-M, M]]
        sgn = np.array([1.0, -1.0])
        jump = np.einsum("p,q,mab->mpaqb", sgn, sgn, M).reshape(nf, 2 * dim, 2 * dim)
        blocks.append((g[facet_nodes.reshape(nf, 2 * dim)], jump, facet_face, "kn"))
        # tangential conduction of the GB network: c_G at an (uncut) node = mean of all its grain copies,
        # so the network stays connected through triple junctions
        origin = self._node_origin
        o_sorted = np.argsort(origin, kind="stable")
        starts = np.searchsorted(origin[o_sorted], origin[fa])  # (nf, dim)
        mult = np.searchsorted(origin[o_sorted], origin[fa], side="right") - starts
        mmax = mult.max(axis=1)
        for m in np.unique(mmax):
            sel = np.flatnonzero(mmax == m)
            p = np.arange(m)
            idx = np.minimum(starts[sel][:, :, None] + p, starts[sel][:, :, None] + mult[sel][:, :, None] - 1)
            copies = o_sorted[idx]  # (k, dim, m)
            wts = np.where(p[None, None, :] < mult[sel][:, :, None], 1.0 / mult[sel][:, :, None], 0.0)
            T = np.einsum("kij,kip,kjq->kipjq", S[sel], wts, wts).reshape(len(sel), dim * m, dim * m)
            blocks.append((g[copies.reshape(len(sel), dim * m)], T, facet_face[sel], "kt"))
        # first-order normal term (tied faces): -R |F| r r^T with r = n . grad <u> over both cells' nodes
        ca, cb = facet_cells[:, 0], facet_cells[:, 1]
        n = _facet_normals(verts)
        Ga = _cell_gradients(points[cells[ca]])  # (m, dim+1, dim)
        Gb = _cell_gradients(points[cells[cb]])
        r = 0.5 * np.concatenate([Ga @ n[:, :, None], Gb @ n[:, :, None]], axis=1)[:, :, 0]  # (m, 2 dim + 2)
        pen = meas[:, None, None] * r[:, :, None] * r[:, None, :]
        blocks.append((g[np.concatenate([cells[ca], cells[cb]], axis=1)], pen, facet_face, "pen"))
        # negative tangential excess (D_par < D_b) of a facet: spread over the grains on both sides as a
        # bulk tensor reduction; W[g] = sum over its facets of face f of |F|/2 (I - n n) / V_g
        vol = np.bincount(grain_id, weights=np.abs(np.linalg.det(
            points[cells[:, 1:]] - points[cells[:, :1]])) / (2.0 if dim == 2 else 6.0))
        Pt = 0.5 * meas[:, None, None] * (np.eye(dim)[None] - n[:, :, None] * n[:, None, :])
        W = np.zeros((len(vol), self.n_faces, dim, dim))
        for side in (ca, cb):
            np.add.at(W, (grain_id[side], facet_face), Pt / vol[grain_id[side]][:, None, None])
        self._W = W
        self._blocks = []
        rows, cols = [], []
        for nodes, base, face, kind in blocks:
            k = nodes.shape[1]
            rows.append(np.repeat(nodes, k, axis=1).ravel())
            cols.append(np.tile(nodes, (1, k)).ravel())
            self._blocks.append((base.ravel(), np.repeat(face, k * k), kind))
        self._coo_rows = np.concatenate(rows)
        self._coo_cols = np.concatenate(cols)
        # periodic classes: node copies with the same wrapped coordinate, grain and image label
        L = self.box
        tol = 1e-8 * L
        q = np.round(np.mod(points, L) / tol).astype(np.int64)
        q[q == int(round(L / tol))] = 0
        key = np.concatenate([q, self._grain_of_node[:, None], self._node_image], axis=1)
        _, self._per_class = np.unique(key, axis=0, return_inverse=True)
        self._per_class = self._per_class.ravel()
        on_box = np.any((np.abs(points) < tol) | (np.abs(points - L) < tol), axis=1)
        if np.any(np.bincount(self._per_class)[self._per_class[on_box]] < 2):
            raise ValueError("mesh is not periodic: a box-face node has no periodic image")

    def _values(self, kn, kt, pen):
        neg = np.minimum(kt, 0.0)
        dD = None
        if self.comm.rank == 0 and np.any(neg < 0):
            dD = np.einsum("gfij,f->gij", self._W, neg)
            lmin = np.linalg.eigvalsh(np.eye(self.dim)[None] + dD).min()
            if lmin < 0.05:
                dD = ValueError("the interface model needs a smaller gb_thickness_nm / grain size for this "
                                f"D_gb_parallel < D_bulk (a grain loses {100 * (1 - lmin):.0f} % of its tangential "
                                "conductivity); use gb_model = 'layer'")
        dD = self.comm.bcast(dD, root=0)
        if isinstance(dD, ValueError):
            raise dD
        bulk = self._bulk_vals if dD is None else self._assemble_bulk(dD)[2]
        if self.comm.rank != 0:
            return bulk
        coef = {"kn": kn, "kt": np.maximum(kt, 0.0), "pen": pen}
        return np.concatenate([bulk] + [base * coef[kind][face] for base, face, kind in self._blocks])

    def _prolongation(self, tied: np.ndarray):
        """P (owned dofs x reduced dofs): periodic images and tied GB node copies share one reduced dof."""
        key = tied.tobytes()
        if key in self._red_cache:
            return self._red_cache[key]
        PETSc, comm = self.PETSc, self.comm
        parts = None
        counts = None
        if comm.rank == 0:
            from scipy.sparse import coo_matrix
            from scipy.sparse.csgraph import connected_components

            n_in = len(self._points)
            nc = int(self._per_class.max()) + 1
            fn = self._facet_nodes[tied[self._facet_face]]
            a, b = fn[:, 0].ravel(), fn[:, 1].ravel()
            # graph over input nodes + periodic class nodes
            rows = np.concatenate([np.arange(n_in), a])
            cols = np.concatenate([n_in + self._per_class, b])
            G = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_in + nc, n_in + nc))
            _, lab = connected_components(G, directed=False)
            lab = lab[:n_in]
            gdof = self._g_of
            nl = int(lab.max()) + 1
            rep = np.full(nl, np.iinfo(np.int64).max)
            np.minimum.at(rep, lab, gdof)
            used = rep < np.iinfo(np.int64).max
            order = np.argsort(rep[used])
            new = np.full(nl, -1, dtype=np.int64)
            new[np.flatnonzero(used)[order]] = np.arange(order.size)
            red_of_g = np.empty(self.n_dofs, dtype=np.int64)
            red_of_g[gdof] = new[lab]
            rep_sorted = rep[used][order]
            parts = [red_of_g[lo:hi] for lo, hi in self.ranges]
            counts = [int(np.count_nonzero((rep_sorted >= lo) & (rep_sorted < hi))) for lo, hi in self.ranges]
        red = comm.scatter(parts, root=0)
        n_red_own = comm.scatter(counts, root=0)
        n_red = comm.allreduce(n_red_own)
        P = PETSc.Mat().createAIJ(((self.n_own, self.n_dofs), (n_red_own, n_red)), nnz=(1, 1), comm=comm)
        P.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)
        P.setValuesCSR(np.arange(self.n_own + 1, dtype=PETSc.IntType), red.astype(PETSc.IntType),
                       np.ones(self.n_own))
        P.assemble()
        if len(self._red_cache) > 4:
            for old in self._red_cache.values():
                old[0].destroy()
            self._red_cache.clear()
        self._red_cache[key] = (P, n_red)
        return P, n_red

    def solve(self, k_t: np.ndarray, R: np.ndarray, return_info: bool = False):
        """Effective tensor (units of D_bulk) for per-face k_t and R (units of D_bulk d, d / D_bulk)."""
        from argyro_run.fe.homogenize import SolveInfo, cg_gamg, solve_reduced

        PETSc, comm = self.PETSc, self.comm
        t0 = time.perf_counter()
        k_t = np.broadcast_to(np.asarray(k_t, float), (self.n_faces,))
        R = np.broadcast_to(np.asarray(R, float), (self.n_faces,))
        tied = R <= TIE_R_PER_H * self.h_gb
        kn = np.where(tied, 0.0, 1.0 / np.where(tied, 1.0, R))
        pen = np.where(tied, -R, 0.0)
        A = self.A
        A.setValuesCOO(self._values(kn, k_t, pen).astype(PETSc.ScalarType))
        A.assemble()
        P, n_red = self._prolongation(tied)
        Kr = A.PtAP(P)
        ns = PETSc.NullSpace().create(constant=True, comm=comm)
        Kr.setNearNullSpace(ns)
        r0, _ = Kr.getOwnershipRange()
        pinned = [0] if r0 == 0 and Kr.getLocalSize()[0] > 0 else []
        Kr.zeroRowsColumns(np.asarray(pinned, dtype=PETSc.IntType), diag=1.0)
        ksp = cg_gamg(Kr, comm, self.rtol, PETSc)
        ksp.setUp()
        t1 = time.perf_counter()
        b, w, Aw = A.createVecLeft(), A.createVecRight(), A.createVecLeft()
        br, xr = Kr.createVecLeft(), Kr.createVecRight()
        AX = []
        for j in range(self.dim):
            y = A.createVecLeft()
            A.mult(self.X[j], y)
            AX.append(y)
        vol = self.box ** self.dim
        D = np.zeros((self.dim, self.dim))
        its = []
        for j in range(self.dim):
            AX[j].copy(b)
            b.scale(-1.0)
            its.append(solve_reduced(ksp, P, b, br, xr, w, pinned, what="interface",
                                     hint="; raise fe.solver_rtol or use gb_model = 'layer'"))
            A.mult(w, Aw)
            for i in range(self.dim):
                D[i, j] = (self.X[i].dot(AX[j]) + self.X[i].dot(Aw)) / vol
        t2 = time.perf_counter()
        for o in [ksp, Kr, ns, b, w, Aw, br, xr] + AX:
            o.destroy()
        D = 0.5 * (D + D.T)
        if return_info:
            return D, SolveInfo(self.n_dofs, n_red, its, t1 - t0, t2 - t1)
        return D
