"""dolfinx meshes rebuilt from a microstructure Result's arrays, and the cellwise D tensors."""

from __future__ import annotations

import numpy as np

from argyro_run._stack import dolfinx_modules
from argyro_run.fe.homogenize import cell_values_from_original, effective_diffusivity, transversely_isotropic


def dolfinx_mesh(points: np.ndarray, cells: np.ndarray, comm):
    """Distributed P1 simplex mesh from (n_nodes, dim) points and (n_cells, dim+1) cells given on rank 0."""
    import basix.ufl
    import ufl

    dolfinx, _ = dolfinx_modules()
    dim = int(comm.bcast(points.shape[1] if comm.rank == 0 else None, root=0))
    shape = "triangle" if dim == 2 else "tetrahedron"
    element = ufl.Mesh(basix.ufl.element("Lagrange", shape, 1, shape=(dim,)))
    if comm.rank == 0:
        x = np.ascontiguousarray(points, dtype=np.float64)
        c = np.ascontiguousarray(cells, dtype=np.int64)
    else:
        x = np.zeros((0, dim), dtype=np.float64)
        c = np.zeros((0, dim + 1), dtype=np.int64)
    return dolfinx.mesh.create_mesh(comm, c, element, x)


def cell_tensors(mesh, cell_kind: np.ndarray, gb_normal: np.ndarray, *, D_bulk: float, D_gb_parallel: float,
                 D_gb_perpendicular: float) -> np.ndarray:
    """Per local cell D: D_bulk I in grains, D_par (I - n n) + D_perp n n in GB cells (inputs per input cell)."""
    kind = cell_values_from_original(mesh, np.asarray(cell_kind))
    n = cell_values_from_original(mesh, np.asarray(gb_normal, float))
    dim = mesh.geometry.dim
    D = np.broadcast_to(D_bulk * np.eye(dim), (len(kind), dim, dim)).copy()
    gb = kind == 1
    if gb.any():
        D[gb] = transversely_isotropic(D_gb_parallel, D_gb_perpendicular, n[gb])
    return D


def polycrystal_diffusivity(mesh, cell_kind, gb_normal, *, D_bulk, D_gb_parallel, D_gb_perpendicular,
                            degree=1, rtol=1e-10, return_info=False):
    """Effective tensor of a rebuilt polycrystal mesh (units of the D inputs)."""
    D = cell_tensors(mesh, cell_kind, gb_normal, D_bulk=D_bulk, D_gb_parallel=D_gb_parallel,
                     D_gb_perpendicular=D_gb_perpendicular)
    return effective_diffusivity(mesh, D, degree=degree, rtol=rtol, return_info=return_info)
