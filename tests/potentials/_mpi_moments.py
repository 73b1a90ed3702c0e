"""Run by test_moments.py as ``mpiexec -n N python -m tests.potentials._mpi_moments OUT`` (from the
repository root): trains a toy level-5 MTP on 7 noisy labelled toy cells (10 iterations, 25 %
validation) and writes the coefficients, loss history, validation and training-set errors as JSON
to OUT on rank 0, for the 1-rank / 2-rank comparison."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from argyro_run._stack import MPI
from argyro_run.potentials import train as T
from tests.potentials.test_moments import label, noisy, toy_cells, toy_mtp

if __name__ == "__main__":
    out = Path(sys.argv[1])
    comm = MPI.COMM_WORLD
    mtp = toy_mtp(4)
    images = noisy(label(mtp, toy_cells(7, seed=9)), seed=3)
    start = toy_mtp(5)
    new, rep = T.train(start, images, max_iterations=10, comm=comm, validation_fraction=0.25, seed=2)
    err = T.errors(new, images, comm=comm)
    if comm.Get_rank() == 0:
        out.write_text(json.dumps({"radial": new.radial_coeffs.ravel().tolist(), "moment": new.moment_coeffs.tolist(),
                                   "species": new.species_coeffs.tolist(), "loss": rep.loss_history,
                                   "val": rep.validation_errors, "err": err}))
