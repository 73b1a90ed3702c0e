"""Run under ``mpiexec -n 2``: label two H2 cells with CP2K through the reference workers
(``label_distributed``); rank 0 writes the outcomes and the launcher variables the ranks had
to ``<out>/labels.json``. Arguments: OUT COMMAND."""

import json
import os
import sys
from pathlib import Path

from ase import Atoms

from argyro_run._stack import MPI
from argyro_run.learning.reference import ReferenceSpec, label_distributed

CP2K_KWARGS = {"basis_set_file": "BASIS_MOLOPT", "potential_file": "GTH_POTENTIALS", "cutoff": 2000.0,
               "xc": "LDA", "label": "h2"}


def h2_cells():
    return [Atoms("H2", positions=[[0, 0, 0], [0, 0, d]], cell=[4, 4, 4], pbc=True) for d in (0.70, 0.78)]


if __name__ == "__main__":
    out, command = Path(sys.argv[1]), sys.argv[2]
    comm = MPI.COMM_WORLD
    spec = ReferenceSpec(calculator="cp2k", command=command, kwargs=CP2K_KWARGS, timeout_s=600, max_retries=0)
    res = label_distributed(h2_cells(), spec, out / "work", comm)
    rank_env = comm.gather(sorted(k for k in os.environ if k.startswith(("PMI_", "HYDI_", "MPI_LOCAL"))), root=0)
    if comm.rank == 0:
        (out / "labels.json").write_text(json.dumps({
            "size": comm.size, "rank_env": rank_env,
            "outcomes": [{"ok": o.ok, "error": o.error, "energy_eV": o.energy_eV,
                          "forces": None if o.forces_eV_per_A is None else o.forces_eV_per_A.tolist()} for o in res]}))
