"""FE speed: periodic-homogenisation D_eff tensor (3 load cases) vs number of DOFs.

Usage:  .venv/bin/mpiexec -n R .venv/bin/python benchmarks/fe_speed.py [N1 N2 ...]
(N = cells per edge of a unit-cube P1 tet mesh, DOFs = (N+1)^3). The diffusion field is a
periodic 3D Voronoi polycrystal (8 grains, transversely isotropic GB layer of 4 % of the grain
size, D_gb_par/D_b = 10, D_gb_perp/D_b = 0.1) assigned per cell by centroid. Prints one line per
size: dofs, reduced dofs, setup time (assembly, P, P^T K P, GAMG setup), solve time (3 CG solves +
flux integrals), CG iterations.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from argyro_run._stack import MPI, dolfinx_modules
from argyro_run.fe.homogenize import cell_midpoints, effective_diffusivity, transversely_isotropic
from argyro_run.microstructure.geometry import make_polycrystal


def main(sizes):
    dolfinx, _ = dolfinx_modules()
    comm = MPI.COMM_WORLD
    poly = make_polycrystal("voronoi", dim=3, n_grains=8, grain_size_nm=1.0, gb_thickness_nm=0.04, seed=0,
                            lloyd_iterations=1)
    for n in sizes:
        t0 = time.perf_counter()
        m = dolfinx.mesh.create_box(comm, [[0, 0, 0], [poly.box_nm] * 3], [n, n, n])
        x = cell_midpoints(m)
        _, dist, normal, _ = poly.classify(x)
        D = np.broadcast_to(np.eye(3), (len(x), 3, 3)).copy()
        gb = dist < 0.02
        D[gb] = transversely_isotropic(10.0, 0.1, normal[gb])
        comm.Barrier()
        t1 = time.perf_counter()
        De, info = effective_diffusivity(m, D, rtol=1e-8, return_info=True)
        comm.Barrier()
        t2 = time.perf_counter()
        if comm.rank == 0:
            print(f"ranks={comm.size} N={n} dofs={info.n_dofs} reduced={info.n_reduced_dofs} "
                  f"mesh_s={t1 - t0:.2f} setup_s={info.setup_s:.2f} solve_s={info.solve_s:.2f} "
                  f"total_Deff_s={t2 - t1:.2f} its={info.iterations} Deff_diag={np.diag(De).round(4).tolist()}",
                  flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [20, 40, 63, 99])
