"""The binary stack works together: LAMMPS and dolfinx in one process under mpiexec -n 2."""

import json

from tests._support.env import REPO, run_mpi


def test_lammps_and_dolfinx_in_one_mpi_process():
    proc = run_mpi(2, [str(REPO / "tests/stack/_lammps_dolfinx_job.py")], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = json.loads(proc.stdout)
    assert len(ranks) == 2 and all(r["size"] == 2 for r in ranks)
    for r in ranks:
        assert r["lammps_natoms"] == 256
        # NVE with dt=0.005 over 200 steps conserves total energy to well below 1e-3 relative
        assert abs(r["lammps_e1"] - r["lammps_e0"]) < 1e-3 * abs(r["lammps_e0"])
        # P2 represents the exact solution x(1-x): error only from the solver tolerance
        assert r["dolfinx_l2_error"] < 1e-8
    assert ranks[0]["lammps_e1"] == ranks[1]["lammps_e1"]
