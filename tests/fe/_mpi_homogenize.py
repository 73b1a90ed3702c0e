"""The random periodic polycrystal of test_homogenize.py; run under ``mpiexec -n N python -m
tests.fe._mpi_homogenize`` (from the repository root) it prints its effective diffusivity
(``DEFF`` and the tensor) on rank 0, for the 1-rank / 2-rank comparison."""

from __future__ import annotations

import numpy as np

from argyro_run._stack import MPI, dolfinx_modules
from argyro_run.fe.homogenize import cell_midpoints, effective_diffusivity, transversely_isotropic


def random_polycrystal(n_cells=24, n_grains=6, seed=3, D_b=1.0, D_gpar=5.0, D_gperp=0.05, delta=0.04):
    """Periodic Voronoi grains on a structured mesh, GB cells (within delta/2 of a face) transversely isotropic."""
    dolfinx, _ = dolfinx_modules()
    m = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n_cells, n_cells)
    x = cell_midpoints(m)
    seeds = np.random.default_rng(seed).random((n_grains, 2))
    imgs = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], float)
    S = (seeds[None] + imgs[:, None]).reshape(-1, 2)
    d2 = ((x[:, None] - S[None]) ** 2).sum(-1)
    o = np.argsort(d2, axis=1)
    s1 = S[o[:, 0]]
    # distance to the bisector with every other seed; nearest face
    diff = S[None] - s1[:, None]
    dist = (d2 - d2[np.arange(len(x)), o[:, 0]][:, None]) / (2 * np.linalg.norm(diff, axis=-1) + 1e-300)
    dist[np.arange(len(x)), o[:, 0]] = np.inf
    k = dist.argmin(axis=1)
    is_gb = dist[np.arange(len(x)), k] < delta / 2
    normals = diff[np.arange(len(x)), k]
    D = np.broadcast_to(D_b * np.eye(2), (len(x), 2, 2)).copy()
    D[is_gb] = transversely_isotropic(D_gpar, D_gperp, normals[is_gb])
    return m, D, is_gb


if __name__ == "__main__":
    m, D, _ = random_polycrystal()
    De = effective_diffusivity(m, D, degree=2, rtol=1e-12)
    if MPI.COMM_WORLD.rank == 0:
        print("DEFF", *De.ravel())
