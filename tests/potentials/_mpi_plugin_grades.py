"""Run by test_plugin.py as ``mpiexec -n N python -m tests.potentials._mpi_plugin_grades FIXTURE_DIR
ACTIVE DUMP THRESHOLD`` (from the repository root): per-atom extrapolation grades of a rattled 2x2x2
supercell of MLIP's configuration 500 of FIXTURE_DIR with the active set ACTIVE (selected
configurations dumped to DUMP), then the same pair style with ``break THRESHOLD``; prints ``RESULT``
and the grades and the break message as JSON on rank 0."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from argyro_run._stack import MPI
from tests.potentials.test_plugin import Lmp, read_out_cfg

if __name__ == "__main__":
    d, active, dump, thr = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    c = read_out_cfg(d / "out.cfg")[19]  # MLIP's configuration 500
    cell = c["cell"]
    shifts = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)]) @ cell
    pos = (c["pos"][None] + shifts[:, None]).reshape(-1, 3)
    pos = pos + np.random.default_rng(5).normal(0, 0.1, pos.shape)
    lmp = Lmp(d / "pot.mtp", np.tile(c["type"], 8), pos, 2 * cell, comm=MPI.COMM_WORLD,
              style_extra=f" active_set {active} select {thr} dump {dump}")
    lmp.run0()
    g = lmp.lmp.gather("d_mtp_grade", 1, 1)
    g = np.ctypeslib.as_array(g, shape=(len(pos),)).copy()
    try:
        lmp.lmp.command(f"pair_style mtp {d / 'pot.mtp'} active_set {active} break {thr}")
        lmp.lmp.command("pair_coeff * * 0")
        lmp.lmp.command("run 0")
        broke = ""
    except Exception as exc:
        broke = str(exc)
    if MPI.COMM_WORLD.rank == 0:
        print("RESULT" + json.dumps({"g": g.tolist(), "broke": broke}))
