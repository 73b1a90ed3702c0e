"""Slurm for real: a one-node Slurm cluster started on this machine (Debian's slurm-wlm + munge,
configured for localhost in a temporary folder by the test, stopped at the end).

Asserted: the batch script ``argyro-run plan --sbatch`` writes runs the small study (MD at three
temperatures, analysis, FE) through ``sbatch`` and ``srun --mpi=pmi2`` on 2 tasks, every task done,
and its archive equals a local ``mpiexec -n 2`` run of the same input entry for entry; under the
same cluster ``srun`` without PMI (the cluster's default here) and ``srun --mpi=pmix`` stop at once
with exit 2 and the message naming ``srun --mpi=pmi2``, before any file is written (the pmix plugin
needs libpmix-dev: without it that case is left to Open MPI's mpirun in test_launcher.py). DFT
inside the allocation: see the last test. `argyro-run doctor` under srun --mpi=pmi2 reports that launcher
as joinable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from argyro_run.archive import open_archive
from tests._support.env import BIN, CLI, run_mpi
from tests.cluster import _slurm
from tests.cluster._label_job import env_dump_wrapper, env_dumps, serial_cp2k
from tests.cluster._study import FE, STUDY, assert_same_archive

pytestmark = [pytest.mark.mpi, pytest.mark.slow]

why = _slurm.missing()
if why:
    pytest.skip(why, allow_module_level=True)


PMIX = Path("/usr/lib/x86_64-linux-gnu/libpmix.so").exists()   # Slurm's pmix plugin loads it (libpmix-dev)


@pytest.fixture(scope="module")
def slurm_env():
    with _slurm.local_slurm(cpus=6) as env:
        yield env


def test_sbatch_study_equals_local_mpiexec(tmp_path, slurm_env):
    text = STUDY + FE + '\n[slurm]\npartition = "debug"\nranks = 2\n'
    local, batch = tmp_path / "local", tmp_path / "batch"
    for d in (local, batch):
        d.mkdir()
        (d / "study.toml").write_text(text)
    p = run_mpi(2, [CLI, str(local / "study.toml")], timeout=600, cwd=str(local))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]

    p = subprocess.run([CLI, "plan", str(batch / "study.toml"), "--sbatch", str(batch / "job.sh")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    script = (batch / "job.sh").read_text()
    assert "#SBATCH --ntasks=2\n" in script and "#SBATCH --partition=debug\n" in script
    assert f"srun --mpi=pmi2 -n 2 -c 1 {CLI} {batch / 'study.toml'}" in script

    env = slurm_env
    state, record = _slurm.sbatch_wait(batch / "job.sh", env, timeout_s=600)
    logs = sorted(batch.glob("cluster-study-*.out"))
    log = logs[0].read_text() if logs else "(no job output)"
    assert state == "COMPLETED", record + "\n" + log[-4000:]
    # 10 tasks: structures, potential, 3 MD, analysis, Arrhenius, one interface mesh for both grain
    # sizes (gb_model = "interface", the default), one fe_sweep for the case, summary
    assert "run finished: 10 executed" in log, log[-3000:]

    # the same cluster: srun without PMI (MpiDefault=none, as on many clusters) stops before
    # MPI_Init with exit 2 instead of starting 2 independent 1-rank runs; nothing written
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "study.toml").write_text(STUDY)
    q = subprocess.run(["srun", "-n", "2", CLI, str(probe / "study.toml")],
                       cwd=str(probe), env=env, capture_output=True, text=True, timeout=120)
    assert q.returncode == 2, (q.stdout, q.stderr)
    assert "srun --mpi=pmi2" in q.stderr and "Traceback" not in q.stderr, q.stderr
    d = subprocess.run(["srun", "--mpi=pmi2", "-n", "1", CLI, "doctor"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert "mpi launcher       srun (pmi2), 1 task(s): ok" in d.stdout, d.stdout + d.stderr
    if PMIX:  # srun with the PMIx plugin: refused the same way
        q = subprocess.run(["srun", "--mpi=pmix", "-n", "2", CLI, str(probe / "study.toml")],
                           cwd=str(probe), env=env, capture_output=True, text=True, timeout=120)
        assert q.returncode == 2 and "started by srun --mpi=pmix, which speaks PMIx" in q.stderr, q.stderr
    assert sorted(x.name for x in probe.iterdir()) == ["study.toml"]

    a = open_archive(batch / "study.h5")
    assert {t["status"] for t in a.tasks.values()} == {"done"} and len(a.tasks) == 10
    assert a.provenance["mpi_size"] == 2
    assert_same_archive(local / "study.h5", batch / "study.h5")


@pytest.mark.skipif(shutil.which("cp2k_shell.psmp") is None or not PMIX,
                    reason="Debian's cp2k and libpmix-dev (Slurm's pmix plugin, which Debian's Open MPI needs) not installed")
def test_dft_inside_the_allocation_with_srun_exact(tmp_path, slurm_env):
    """docs/cluster.md's Slurm pattern: a 6-task job, argyro-run's 2 ranks started with
    srun --mpi=pmi2 --exact -n 2, each rank's reference worker starting CP2K as a job step of its
    own (srun --exact --mpi=pmix -n 2 cp2k_shell.psmp) in the 4 free task slots. Both cells are
    labelled like a serial CP2K run; the ranks ran in a step (PMI_* and SLURM_STEP_ID set) and the
    DFT steps saw none of those, but the job id that srun needs."""
    dumps = tmp_path / "env"
    wrapper = env_dump_wrapper(dumps, "srun --exact --mpi=pmix -n 2 cp2k_shell.psmp")
    job = tmp_path / "dft.sh"
    job.write_text(f"""#!/bin/bash
#SBATCH --ntasks=6
#SBATCH --output={tmp_path}/dft-%j.out
export OMP_NUM_THREADS=1
srun --mpi=pmi2 --exact -n 2 {BIN / "python"} {Path(__file__).with_name("_label_job.py")} {tmp_path} {wrapper}
""")
    state, record = _slurm.sbatch_wait(job, slurm_env, timeout_s=600)
    log = "".join(p.read_text() for p in tmp_path.glob("dft-*.out"))
    assert state == "COMPLETED", record + "\n" + log[-3000:]
    got = json.loads((tmp_path / "labels.json").read_text())
    assert got["size"] == 2 and all({"PMI_RANK", "SLURM_STEP_ID"} <= set(e) for e in got["rank_env"])
    assert [o["ok"] for o in got["outcomes"]] == [True, True], [o["error"] for o in got["outcomes"]] + [log]
    for k, (e, f) in enumerate(serial_cp2k(tmp_path)):
        assert got["outcomes"][k]["energy_eV"] == pytest.approx(e, abs=1e-6)
        np.testing.assert_allclose(got["outcomes"][k]["forces"], f, atol=1e-5)
    seen = env_dumps(dumps)
    assert len(seen) == 2
    for env in seen:
        assert [k for k in env if k.startswith(("PMI_", "PMIX_", "SLURM_STEP_", "SLURM_PROCID"))] == []
        assert env["SLURM_JOB_ID"]
