"""Launch it right or say why not: the launcher check before MPI_Init, the rank check at start.

Asserted: the launcher of an environment is recognised from the variables each launcher sets
(recorded here from Open MPI 4.1's mpirun, Hydra, srun --mpi=pmi2/pmix/none); PMIx launchers and
srun without PMI on several tasks are refused, Hydra/pmi2/no launcher/1-task srun accepted;
Debian's Open MPI ``mpirun -n 2 argyro-run`` ends with exit 2 and the fixes on stderr, no Open MPI
abort and nothing written; ``argyro-run doctor`` under it names the problem; a ``[parallel]``
value above the launched ranks is exit 2 naming the key, before any file is written.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from argyro_run.launcher import SKIP_VARIABLE, launcher_of, launcher_problem
from tests._support.env import CLI, run_mpi
from tests.cluster._study import STUDY

# variables as the launchers set them (values shortened)
OPENMPI = {"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0", "OMPI_MCA_ess": "^singleton",
           "PMIX_RANK": "0", "PMIX_NAMESPACE": "1502806017", "PMIX_SERVER_URI4": "x"}
HYDRA = {"PMI_RANK": "1", "PMI_SIZE": "2", "PMI_FD": "9", "MPI_LOCALNRANKS": "2", "HYDI_CONTROL_FD": "7"}
SRUN_PMI2 = {"PMI_RANK": "0", "PMI_SIZE": "2", "PMI_FD": "11", "PMI_JOBID": "1.0", "SLURM_STEP_ID": "0",
             "SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "2"}
SRUN_PMIX = {"PMIX_RANK": "1", "PMIX_NAMESPACE": "slurm.pmix.5.0", "SLURM_STEP_ID": "0",
             "SLURM_STEP_NUM_TASKS": "4", "SLURM_PROCID": "1"}
SRUN_NONE = {"SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "2"}
BATCH_SCRIPT = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "8"}   # argyro-run typed into a batch script


def test_launchers_recognised_and_judged():
    cases = {"openmpi": (OPENMPI, "pmix", 2, True), "hydra": (HYDRA, "pmi", 2, False),
             "srun pmi2": (SRUN_PMI2, "pmi", 2, False), "srun pmix": (SRUN_PMIX, "pmix", 4, True),
             "srun none": (SRUN_NONE, "none", 2, True), "batch": (BATCH_SCRIPT, "none", None, False),
             "plain": ({}, "none", None, False),
             "srun none, 1 task": ({**SRUN_NONE, "SLURM_STEP_NUM_TASKS": "1"}, "none", 1, False),
             "hydra inside a 1-task srun step": ({**SRUN_NONE, "SLURM_STEP_NUM_TASKS": "1", **HYDRA}, "pmi", 2, False)}
    for name, (env, protocol, size, refused) in cases.items():
        info = launcher_of(env)
        assert (info["protocol"], info["size"]) == (protocol, size), name
        assert ("Hydra" in info["name"]) == name.startswith("hydra"), name
        msg = launcher_problem(env)
        assert (msg is not None) == refused, name
        if refused:
            assert "mpiexec" in msg and "srun --mpi=pmi2" in msg and "docs/cluster.md" in msg, name
            assert launcher_problem({**env, SKIP_VARIABLE: "1"}) is None


@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpirun.openmpi") is None, reason="Open MPI's mpirun (Debian openmpi-bin) not installed")
def test_openmpi_mpirun_is_refused_before_mpi_init(tmp_path):
    (tmp_path / "study.toml").write_text(STUDY)
    p = subprocess.run(["mpirun.openmpi", "--allow-run-as-root", "--oversubscribe", "-n", "2", CLI, "study.toml"],
                       cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.count("which speaks PMIx") == 1 and p.stderr.count("error: ") == 1   # one explanation, by task 0
    assert ".venv/bin/mpiexec -n N" in p.stderr and "srun --mpi=pmi2" in p.stderr
    assert "unsupported PMI version" not in p.stderr + p.stdout and "Traceback" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["study.toml"]
    d = subprocess.run(["mpirun.openmpi", "--allow-run-as-root", "-n", "1", CLI, "doctor"],
                       capture_output=True, text=True, timeout=300)
    assert d.returncode != 0
    assert "mpi launcher       Open MPI mpirun (PMIx), 1 task(s): NOT joinable" in d.stdout, d.stdout


@pytest.mark.mpi
def test_parallel_above_launched_ranks_is_an_input_error(tmp_path):
    (tmp_path / "study.toml").write_text(STUDY + "\n[parallel]\nranks_per_md = 3\n")
    p = run_mpi(2, [CLI, "study.toml"], timeout=120, cwd=str(tmp_path))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "parallel.ranks_per_md = 3, but only 2 MPI rank(s) were launched; allowed: <= 2" in p.stderr
    assert "Traceback" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["study.toml"]
