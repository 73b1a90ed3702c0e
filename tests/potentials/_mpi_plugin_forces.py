"""Run by test_plugin.py as ``mpiexec -n N python -m tests.potentials._mpi_plugin_forces FIXTURE_DIR``
(from the repository root): the MTP pair style on a rattled 3x3x3 supercell of MLIP's configuration
500 of FIXTURE_DIR (large enough that two ranks really split the domain); prints ``RESULT`` and the
energy, virial, forces and number of ranks as JSON on rank 0."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from argyro_run._stack import MPI
from tests.potentials.test_plugin import Lmp, read_out_cfg

if __name__ == "__main__":
    d = Path(sys.argv[1])
    c = read_out_cfg(d / "out.cfg")[19]  # MLIP's configuration 500
    cell = c["cell"]
    base = c["pos"]
    shifts = np.array([[i, j, k] for i in range(3) for j in range(3) for k in range(3)]) @ cell
    pos = (base[None] + shifts[:, None]).reshape(-1, 3)
    rng = np.random.default_rng(3)
    pos = pos + rng.normal(0, 0.05, pos.shape)
    types = np.tile(c["type"], 27)
    lmp = Lmp(d / "pot.mtp", types, pos, 3 * cell, comm=MPI.COMM_WORLD)
    lmp.run0()
    e = lmp.energy()
    v = lmp.virial()
    f = lmp.lmp.gather_atoms("f", 1, 3)
    f = np.ctypeslib.as_array(f, shape=(len(pos) * 3,)).reshape(-1, 3) @ lmp.R.T
    if MPI.COMM_WORLD.rank == 0:
        print("RESULT" + json.dumps({"e": e, "v": v.tolist(), "f": f.tolist(),
                                     "nprocs": MPI.COMM_WORLD.size}))
