"""Run by test_loop_real.py as ``mpiexec -n 2 python -m tests.learning._mpi_loop WORKDIR OUT`` (from
the repository root): initial data (4 rattled copies of ordered Li6PS5Cl) and one active-learning
iteration with two exploration temperatures below WORKDIR, the console's messages on stderr; rank 0 pickles to OUT the list, one
entry per rank, of (attributes, .mtp text, active-set text, explorations, added images)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from argyro_run._stack import MPI
from argyro_run.learning.tasks import run_active_learning, run_initial_data
from argyro_run.structures import argyrodite
from tests.learning.test_loop_real import REF, _al_params, _structures

if __name__ == "__main__":
    wd, out = Path(sys.argv[1]), Path(sys.argv[2])
    comm = MPI.COMM_WORLD
    from argyro_run.runtime.console import setup_logging

    setup_logging(comm.rank)          # the console as in a run: world rank 0 prints
    deps = {"structures/LPSCl": _structures(ordered=argyrodite("Cl"))}
    init = run_initial_data({"reference": REF, "n_rattled": 4, "rattle_amplitude_A": 0.05, "strain_amplitude": 0.02,
                             "training_set": None, "seed": 5}, deps, comm, wd / "init")
    params = _al_params(4, max_iterations=1, max_selected=2, exploration_ps=0.2, temps=(800.0, 1000.0))
    res = run_active_learning(params, {"learning/initial_data": init, **deps}, comm, wd / "al")
    mine = (res.get_attrs(""), str(res.get("mtp/text")), str(res.get("active_set/text")),
            int(res.get("iterations/0/n_explorations")), int(res.get("iterations/0/n_added")))
    every = comm.gather(mine)
    if comm.rank == 0:
        out.write_bytes(pickle.dumps(every))
