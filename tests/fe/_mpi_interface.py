"""Run by test_interface.py as ``mpiexec -n N python -m tests.fe._mpi_interface DIM H WORKDIR``
(from the repository root): an 8-grain Voronoi interface mesh of dimension DIM and mesh size
fraction H, the thin-interface solver with per-face GB diffusivities at d = 10 and 100 nm;
prints ``DEFF``, the number of dofs and the tensors on rank 0."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from argyro_run._stack import MPI
from argyro_run.fe.polycrystal import PolycrystalSolver
from argyro_run.microstructure.tasks import run_mesh

if __name__ == "__main__":
    dim, h, work = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
    comm = MPI.COMM_WORLD
    res = run_mesh({"microstructure": {"kind": "voronoi", "n_grains": 8, "dimension": dim, "seed": 0,
                                       "lloyd_iterations": 1, "mesh_size_fraction": h}}, {}, comm, work)
    S = PolycrystalSolver(res, comm, rtol=1e-12)
    par = np.linspace(0.5, 20.0, S.n_gb_faces)
    perp = np.linspace(0.05, 3.0, S.n_gb_faces)[::-1]
    out = [S.D_eff(grain_size_nm=d, gb_thickness_nm=1.0, D_bulk=2.0, D_gb_parallel=par, D_gb_perpendicular=perp)
           for d in (10.0, 100.0)]
    if comm.rank == 0:
        print("DEFF", S.n_dofs, *np.ravel(out))
