"""Run by test_plugin.py as ``mpiexec -n 2 python -m tests.potentials._mpi_plugin_build`` (from the
repository root, with ``ARGYRO_RUN_CACHE`` set to an empty folder): every rank asks for the MTP
LAMMPS plugin at once; prints ``PATHS`` and the library path each rank got on rank 0."""

from __future__ import annotations

from argyro_run._stack import MPI
from argyro_run.potentials.plugin import plugin_path

if __name__ == "__main__":
    paths = MPI.COMM_WORLD.gather(str(plugin_path()))
    if MPI.COMM_WORLD.rank == 0:
        print("PATHS", " ".join(paths))
