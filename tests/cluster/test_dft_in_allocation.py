"""DFT inside the allocation: a reference worker of a 2-rank run starts a parallel DFT code with
its own launcher (``reference.command``), here Debian's CP2K ``cp2k_shell.psmp`` under Open MPI's
``mpirun -n 2``, from each rank of a ``mpiexec -n 2`` (Hydra) run.

Asserted: both H2 cells are labelled, with energies and forces equal to a serial CP2K run of the
same cells in this process (1e-6 eV, 1e-5 eV/A); the ranks did carry Hydra's PMI variables, the
environment the command saw carries none of the parent's launcher variables (PMI_*, HYDI_*,
MPI_LOCAL*), while a user setting (a marker variable) is passed on; the launcher-variable filter
keeps MPI user settings and the Slurm job variables a nested ``srun`` needs. (The workers run in
folders deeper than the 80 characters the CP2K shell takes for file names: that works too.)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from argyro_run.learning.reference import launch_environment
from tests._support.env import run_mpi
from tests.cluster._label_job import env_dump_wrapper, env_dumps, serial_cp2k

JOB = Path(__file__).with_name("_label_job.py")
LEAKS = ("PMI_", "PMIX_", "HYDI_", "HYDRA_", "MPI_LOCALNRANKS", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_")


def test_launch_environment_filter():
    env = {"PMI_FD": "9", "PMI_RANK": "1", "HYDI_CONTROL_FD": "7", "MPI_LOCALNRANKS": "2", "PMIX_RANK": "0",
           "OMPI_COMM_WORLD_RANK": "1", "OMPI_MCA_orte_hnp_uri": "x", "SLURM_STEP_ID": "0", "SLURM_PROCID": "1",
           "SLURM_CPU_BIND": "quiet", "OMPI_MCA_btl": "^openib", "OMPI_ALLOW_RUN_AS_ROOT": "1",
           "I_MPI_PMI_LIBRARY": "/usr/lib/libpmi2.so", "MPICH_ASYNC_PROGRESS": "1", "SLURM_JOB_ID": "42",
           "SLURM_NTASKS": "18", "SLURM_CPUS_PER_TASK": "1", "PATH": "/usr/bin", "OMP_NUM_THREADS": "4"}
    assert launch_environment(env) == {
        "OMPI_MCA_btl": "^openib", "OMPI_ALLOW_RUN_AS_ROOT": "1", "I_MPI_PMI_LIBRARY": "/usr/lib/libpmi2.so",
        "MPICH_ASYNC_PROGRESS": "1", "SLURM_JOB_ID": "42", "SLURM_NTASKS": "18", "SLURM_CPUS_PER_TASK": "1",
        "PATH": "/usr/bin", "OMP_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}
    assert launch_environment({}) == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.mark.mpi
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cp2k_shell.psmp") is None or shutil.which("mpirun.openmpi") is None,
                    reason="Debian's cp2k (cp2k_shell.psmp) and openmpi-bin (mpirun.openmpi) not installed")
def test_cp2k_under_mpirun_from_workers_of_a_2_rank_run(tmp_path):
    dumps = tmp_path / "env"
    wrapper = env_dump_wrapper(dumps, "mpirun.openmpi --allow-run-as-root --oversubscribe -n 2 cp2k_shell.psmp")
    os.environ["ARGYRO_TEST_MARKER"] = "kept"
    try:
        p = run_mpi(2, [str(JOB), str(tmp_path), str(wrapper)], timeout=900, cwd=str(tmp_path))
    finally:
        del os.environ["ARGYRO_TEST_MARKER"]
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    got = json.loads((tmp_path / "labels.json").read_text())
    assert got["size"] == 2 and all("PMI_RANK" in e for e in got["rank_env"])
    assert [o["ok"] for o in got["outcomes"]] == [True, True], [o["error"] for o in got["outcomes"]]

    for k, (e, f) in enumerate(serial_cp2k(tmp_path)):
        assert got["outcomes"][k]["energy_eV"] == pytest.approx(e, abs=1e-6)
        np.testing.assert_allclose(got["outcomes"][k]["forces"], f, atol=1e-5)
    assert abs(got["outcomes"][0]["energy_eV"] - got["outcomes"][1]["energy_eV"]) > 1e-3  # two different cells

    seen = env_dumps(dumps)
    assert len(seen) == 2
    for env in seen:
        assert [k for k in env if k.startswith(LEAKS)] == []
        assert env["ARGYRO_TEST_MARKER"] == "kept"
