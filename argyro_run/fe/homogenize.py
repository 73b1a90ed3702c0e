"""Steady diffusion div(D grad c) = 0 on a box with cellwise diffusion tensors (dolfinx + PETSc).

* :func:`effective_diffusivity` -- periodic homogenisation: c = G.x + w, w periodic, one load
  case per axis (G = e_j), ``D_eff[:, j] = <D (e_j + grad w_j)>``. Periodicity is imposed by a
  prolongation matrix ``P`` (full dofs x reduced dofs, one 1 per row: every dof on a "max" face
  is identified with its periodic image by coordinates) and the reduced system
  ``P^T K P w_r = P^T b`` is solved with CG + GAMG, the constant null space fixed by pinning one dof.
* :func:`electrode_diffusivity` -- c = 1 / c = 0 on the two faces normal to ``axis``, no flux
  elsewhere; ``D_eff = <flux along axis> * L / (c_hi - c_lo)``.

Both work on any dolfinx mesh of an axis-aligned box (triangles/quads/tets/hexes), on the mesh's
communicator. ``D_cells`` is a (num local cells incl. ghosts, dim, dim) array in the mesh's local
cell order (see :func:`cell_values_from_original` and :func:`cell_midpoints`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from argyro_run._stack import MPI, dolfinx_modules

log = logging.getLogger(__name__)


def _num_cells(mesh) -> int:
    tdim = mesh.topology.dim
    im = mesh.topology.index_map(tdim)
    return im.size_local + im.num_ghosts


def cell_midpoints(mesh) -> np.ndarray:
    """Midpoints (num local cells incl. ghosts, gdim) of the mesh's cells, in its length unit."""
    dolfinx, _ = dolfinx_modules()
    tdim = mesh.topology.dim
    cells = np.arange(_num_cells(mesh), dtype=np.int32)
    return dolfinx.mesh.compute_midpoints(mesh, tdim, cells)[:, : mesh.geometry.dim]


def cell_values_from_original(mesh, values_by_input_cell: np.ndarray) -> np.ndarray:
    """Reorder a per-input-cell array (as passed to ``create_mesh``) to the mesh's local cells."""
    idx = np.asarray(mesh.topology.original_cell_index, dtype=np.int64)
    n = _num_cells(mesh)
    if idx.size < n:
        raise ValueError("mesh has no original cell index for its ghost cells")
    return np.asarray(values_by_input_cell)[idx[:n]]


def transversely_isotropic(D_par, D_perp, normals) -> np.ndarray:
    """D = D_par (I - n n) + D_perp n n for each unit normal n (rows of ``normals``)."""
    n = np.asarray(normals, dtype=float)
    n = n / np.linalg.norm(n, axis=1, keepdims=True)
    dim = n.shape[1]
    nn = n[:, :, None] * n[:, None, :]
    D_par = np.asarray(D_par, dtype=float).reshape(-1, 1, 1)
    D_perp = np.asarray(D_perp, dtype=float).reshape(-1, 1, 1)
    return D_par * (np.eye(dim)[None] - nn) + D_perp * nn


def box_bounds(mesh) -> tuple[np.ndarray, np.ndarray]:
    gdim = mesh.geometry.dim
    x = mesh.geometry.x[:, :gdim]
    lo = np.asarray(x.min(axis=0) if len(x) else np.full(gdim, np.inf), dtype=float)
    hi = np.asarray(x.max(axis=0) if len(x) else np.full(gdim, -np.inf), dtype=float)
    glo, ghi = np.empty_like(lo), np.empty_like(hi)
    mesh.comm.Allreduce(lo, glo, op=MPI.MIN)
    mesh.comm.Allreduce(hi, ghi, op=MPI.MAX)
    return glo, ghi


def _tensor_function(mesh, D_cells):
    dolfinx, _ = dolfinx_modules()
    gdim = mesh.geometry.dim
    D_cells = np.asarray(D_cells, dtype=float)
    n = _num_cells(mesh)
    if D_cells.shape != (n, gdim, gdim):
        raise ValueError(f"D_cells must have shape {(n, gdim, gdim)}, got {D_cells.shape}")
    if not np.allclose(D_cells, np.swapaxes(D_cells, 1, 2), rtol=1e-12, atol=0.0):
        raise ValueError("cell diffusion tensors must be symmetric")
    T = dolfinx.fem.functionspace(mesh, ("DG", 0, (gdim, gdim)))
    D = dolfinx.fem.Function(T, name="D")
    # DG0 tensor space: dofs of cell c are c*gdim*gdim ... (blocked, one block per cell)
    cell_dofs = T.dofmap.list[:n, 0]
    bs = T.dofmap.bs
    arr = D.x.array.reshape(-1, bs)
    arr[cell_dofs] = D_cells.reshape(n, bs)
    D.x.scatter_forward()
    return D


@dataclass
class SolveInfo:
    n_dofs: int
    n_reduced_dofs: int
    iterations: list
    setup_s: float
    solve_s: float


def _periodic_prolongation(V, lo, hi, PETSc):
    """PETSc matrix P (owned dofs x reduced dofs): each dof -> its master (periodic image at lo)."""
    comm = V.mesh.comm
    im = V.dofmap.index_map
    n_own = im.size_local
    gdim = V.mesh.geometry.dim
    X = V.tabulate_dof_coordinates()[:n_own, :gdim]
    L = hi - lo
    tol = 1e-8 * float(L.max())
    at_hi = np.abs(X - hi) < tol
    at_lo = np.abs(X - lo) < tol
    slave = at_hi.any(axis=1)
    master_local = np.flatnonzero(~slave)
    n_red_own = master_local.size
    offset = comm.exscan(n_red_own) or 0
    n_red = comm.allreduce(n_red_own)
    red = np.full(n_own, -1, dtype=np.int64)
    red[master_local] = offset + np.arange(n_red_own)
    # boundary dofs: key = integer grid of the wrapped coordinate
    bnd = np.flatnonzero((at_hi | at_lo).any(axis=1))
    Xw = X[bnd].copy()
    Xw[at_hi[bnd]] = np.broadcast_to(lo, Xw.shape)[at_hi[bnd]]
    keys = np.round((Xw - lo) / tol).astype(np.int64)
    is_master = ~slave[bnd]
    all_keys = comm.allgather(keys[is_master])
    all_red = comm.allgather(red[bnd][is_master])
    table = {}
    for k, r in zip(all_keys, all_red):
        for kk, rr in zip(map(tuple, k), r):
            table[kk] = int(rr)
    for i, k in zip(bnd[~is_master], map(tuple, keys[~is_master])):
        try:
            red[i] = table[k]
        except KeyError:
            raise ValueError(
                f"mesh is not periodic: no periodic image for the dof at {X[i]} (box {lo} .. {hi})") from None
    P = PETSc.Mat().createAIJ(((n_own, im.size_global), (n_red_own, n_red)), nnz=(1, 1), comm=comm)
    P.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)
    indptr = np.arange(n_own + 1, dtype=PETSc.IntType)
    P.setValuesCSR(indptr, red.astype(PETSc.IntType), np.ones(n_own))
    P.assemble()
    return P, n_red


def _scale_of(D_cells, comm) -> float:
    """Largest |D| over all ranks' cells (1 when all are zero)."""
    local = float(np.abs(np.asarray(D_cells, dtype=float)).max()) if np.size(D_cells) else 0.0
    s = comm.allreduce(local, op=MPI.MAX)
    return s if s > 0 else 1.0


def cg_gamg(A, comm, rtol, PETSc, nullspace=None):
    ksp = PETSc.KSP().create(comm)
    ksp.setOperators(A)
    ksp.setType("cg")
    ksp.getPC().setType("gamg")
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=5000)
    # symmetric SOR smoothing on the AMG levels: the default Chebyshev/Jacobi smoother relies on
    # eigenvalue estimates that made the preconditioner indefinite on GB-contrast problems
    # (KSP_DIVERGED_INDEFINITE_PC); users may still override with -argyro_fe_* PETSc options
    ksp.setOptionsPrefix("argyro_fe_")
    opts = PETSc.Options()
    for key, value in (("mg_levels_ksp_type", "richardson"), ("mg_levels_pc_type", "sor")):
        if not opts.hasName("argyro_fe_" + key):
            opts.setValue("argyro_fe_" + key, value)
    ksp.setFromOptions()
    return ksp


def solve_reduced(ksp, P, b, br, xr, x, pinned, *, what: str, hint: str = "") -> int:
    """One periodic solve on the reduced numbering: ``br = P^T b`` with the ``pinned`` rows zeroed (the
    constant null space), ``xr = K_red^-1 br`` by ``ksp``, ``x = P xr``. Returns the CG iterations;
    a RuntimeError names ``what`` (and ``hint``) when CG/GAMG did not converge."""
    P.multTranspose(b, br)
    for row in pinned:
        br.setValue(row, 0.0)
    br.assemble()
    xr.set(0.0)
    ksp.solve(br, xr)
    if ksp.getConvergedReason() <= 0:
        raise RuntimeError(f"{what} CG/GAMG did not converge (reason {ksp.getConvergedReason()}, "
                           f"{ksp.getIterationNumber()} iterations){hint}")
    P.mult(xr, x)
    return ksp.getIterationNumber()


def effective_diffusivity(mesh, D_cells, *, degree: int = 1, rtol: float = 1e-10,
                          return_info: bool = False):
    """Effective diffusion tensor (gdim x gdim, units of D) by periodic homogenisation."""
    import time

    import ufl

    dolfinx, PETSc = dolfinx_modules()
    from dolfinx.fem import petsc as fpetsc

    t0 = time.perf_counter()
    comm = mesh.comm
    gdim = mesh.geometry.dim
    lo, hi = box_bounds(mesh)
    vol = float(np.prod(hi - lo))
    # solve with D scaled to O(1) (AMG thresholds and eigenvalue estimates are not scale-free in
    # practice: D ~ 1e-12 m^2/s made GAMG indefinite); D_eff is linear in D
    scale = _scale_of(D_cells, comm)
    D = _tensor_function(mesh, np.asarray(D_cells, dtype=float) / scale)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    G = dolfinx.fem.Constant(mesh, np.zeros(gdim))
    e = dolfinx.fem.Constant(mesh, np.zeros(gdim))
    w = dolfinx.fem.Function(V)
    a = dolfinx.fem.form(ufl.inner(D * ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = dolfinx.fem.form(-ufl.inner(D * G, ufl.grad(v)) * ufl.dx)
    flux = dolfinx.fem.form(ufl.inner(D * (G + ufl.grad(w)), e) * ufl.dx)
    K = fpetsc.assemble_matrix(a)
    K.assemble()
    P, n_red = _periodic_prolongation(V, lo, hi, PETSc)
    Kr = K.PtAP(P)
    # the fluctuation is defined up to a constant (the constant null space of the periodic operator);
    # fix it by pinning the first reduced dof (w = 0 there): a nonsingular SPD system, which AMG's
    # coarse solvers handle robustly (a singular one with a null space made GAMG indefinite)
    ones = Kr.createVecRight()
    ones.set(1.0)
    ns = PETSc.NullSpace().create(constant=True, comm=comm)
    Kr.setNearNullSpace(ns)
    r0, _ = Kr.getOwnershipRange()
    pinned = [0] if r0 == 0 and Kr.getLocalSize()[0] > 0 else []
    Kr.zeroRowsColumns(np.asarray(pinned, dtype=PETSc.IntType), diag=1.0)
    ksp = cg_gamg(Kr, comm, rtol, PETSc)
    br, xr = Kr.createVecLeft(), Kr.createVecRight()
    ksp.setUp()
    t1 = time.perf_counter()
    Deff = np.zeros((gdim, gdim))
    its = []
    for j in range(gdim):
        G.value[:] = 0.0
        G.value[j] = 1.0
        b = fpetsc.assemble_vector(L)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        its.append(solve_reduced(ksp, P, b, br, xr, w.x.petsc_vec, pinned, what="periodic"))
        w.x.scatter_forward()
        for i in range(gdim):
            e.value[:] = 0.0
            e.value[i] = 1.0
            Deff[i, j] = comm.allreduce(dolfinx.fem.assemble_scalar(flux), op=MPI.SUM) / vol
        b.destroy()
    t2 = time.perf_counter()
    Deff *= scale
    for obj in (ksp, Kr, K, P, br, xr, ones, ns):
        obj.destroy()
    if return_info:
        return Deff, SolveInfo(V.dofmap.index_map.size_global, n_red, its, t1 - t0, t2 - t1)
    return Deff


def electrode_diffusivity(mesh, D_cells, *, axis: int = 0, degree: int = 1, rtol: float = 1e-10) -> float:
    """D_eff along ``axis`` from c = 1 at the low face, c = 0 at the high face, no flux elsewhere."""
    import ufl

    dolfinx, PETSc = dolfinx_modules()
    from dolfinx.fem import petsc as fpetsc

    comm = mesh.comm
    gdim = mesh.geometry.dim
    lo, hi = box_bounds(mesh)
    vol = float(np.prod(hi - lo))
    length = float(hi[axis] - lo[axis])
    tol = 1e-8 * float((hi - lo).max())
    scale = _scale_of(D_cells, comm)          # solve with O(1) coefficients, see effective_diffusivity
    D = _tensor_function(mesh, np.asarray(D_cells, dtype=float) / scale)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    tdim = mesh.topology.dim
    facets_lo = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, lambda x: np.abs(x[axis] - lo[axis]) < tol)
    facets_hi = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, lambda x: np.abs(x[axis] - hi[axis]) < tol)
    dofs_lo = dolfinx.fem.locate_dofs_topological(V, tdim - 1, facets_lo)
    dofs_hi = dolfinx.fem.locate_dofs_topological(V, tdim - 1, facets_hi)
    bcs = [dolfinx.fem.dirichletbc(PETSc.ScalarType(1.0), dofs_lo, V),
           dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), dofs_hi, V)]
    zero = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0))
    a = dolfinx.fem.form(ufl.inner(D * ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = dolfinx.fem.form(zero * v * ufl.dx)
    A = fpetsc.assemble_matrix(a, bcs=bcs)
    A.assemble()
    b = fpetsc.assemble_vector(L)
    fpetsc.apply_lifting(b, [a], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fpetsc.set_bc(b, bcs)
    c = dolfinx.fem.Function(V)
    ksp = cg_gamg(A, comm, rtol, PETSc)
    ksp.solve(b, c.x.petsc_vec)
    if ksp.getConvergedReason() <= 0:
        raise RuntimeError(f"electrode CG/GAMG did not converge (reason {ksp.getConvergedReason()})")
    c.x.scatter_forward()
    e = np.zeros(gdim)
    e[axis] = 1.0
    flux = dolfinx.fem.form(-ufl.inner(D * ufl.grad(c), dolfinx.fem.Constant(mesh, e)) * ufl.dx)
    J = comm.allreduce(dolfinx.fem.assemble_scalar(flux), op=MPI.SUM) / vol
    ksp.destroy()
    A.destroy()
    b.destroy()
    return float(J * length * scale)
