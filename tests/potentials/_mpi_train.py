"""Run by test_train.py as ``mpiexec -n N python -m tests.potentials._mpi_train OUT`` (from the
repository root): trains the level-06 crystal fixture MTP on 5 randomly labelled configurations
(8 iterations, 20 % validation) and writes the coefficients, loss history and validation errors
as JSON to OUT on rank 0, for the 1-rank / 2-rank comparison."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from argyro_run._stack import MPI
from argyro_run.potentials import train as T
from tests.potentials.test_train import CRYSTAL, _cfg, _mtp, _random_labels

if __name__ == "__main__":
    out = Path(sys.argv[1])
    comm = MPI.COMM_WORLD
    mtp = _mtp(CRYSTAL / "06" / "pot.mtp")
    images = _random_labels(mtp, _cfg(CRYSTAL / "06" / "out.cfg")[:5], seed=6)
    new, rep = T.train(mtp, images, max_iterations=8, comm=comm, validation_fraction=0.2, seed=1)
    if comm.Get_rank() == 0:
        out.write_text(json.dumps({"radial": np.asarray(new.radial_coeffs).ravel().tolist(),
                                   "moment": np.asarray(new.moment_coeffs).tolist(),
                                   "species": np.asarray(new.species_coeffs).tolist(), "loss": rep.loss_history,
                                   "val": rep.validation_errors}))
