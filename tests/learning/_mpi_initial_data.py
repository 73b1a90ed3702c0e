"""Run by test_tasks_initial.py as ``mpiexec -n 2 python -m tests.learning._mpi_initial_data WORKDIR
OUT`` (from the repository root): the initial-data task of the test's ``_deps``/``_params(3)`` in
WORKDIR; rank 0 pickles its ``Result`` to OUT, for the comparison with a serial run."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from argyro_run._stack import MPI
from argyro_run.learning.tasks import run_initial_data
from tests.learning.test_tasks_initial import _deps, _params

if __name__ == "__main__":
    wd, out = Path(sys.argv[1]), Path(sys.argv[2])
    deps, _ = _deps()
    res = run_initial_data(_params(3), deps, MPI.COMM_WORLD, wd)
    if MPI.COMM_WORLD.rank == 0:
        out.write_bytes(pickle.dumps(res))
