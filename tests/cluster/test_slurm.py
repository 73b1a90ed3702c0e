"""Slurm for real: a one-node Slurm cluster started on this machine (Debian's slurm-wlm + munge,
configured for localhost in a temporary folder by the test, stopped at the end).

Asserted: the batch script ``argyro-run plan --sbatch`` writes runs the small study (MD at three
temperatures, analysis, FE) through ``sbatch`` and ``srun --mpi=pmi2`` on 2 tasks, every task done,
and its archive equals a local ``mpiexec -n 2`` run of the same input entry for entry; under the
same cluster ``srun`` without PMI (the cluster's default here) stops at once with exit 2 and the
message naming ``srun --mpi=pmi2``, before any file is written. (``srun --mpi=pmix`` cannot start
here: Debian's slurmd finds no libpmix.so without libpmix-dev; the PMIx case is covered with Open
MPI's mpirun in test_launcher.py.)
"""

from __future__ import annotations

import subprocess

import pytest

from argyro_run.archive import open_archive
from tests.cluster import _slurm
from tests.cluster._study import FE, STUDY, assert_same_archive
from tests.conftest import BIN, run_mpi

pytestmark = [pytest.mark.mpi, pytest.mark.slow]
CLI = str(BIN / "argyro-run")

why = _slurm.missing()
if why:
    pytest.skip(why, allow_module_level=True)


def test_sbatch_study_equals_local_mpiexec(tmp_path):
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

    with _slurm.local_slurm(cpus=2) as env:
        state, record = _slurm.sbatch_wait(batch / "job.sh", env, timeout_s=600)
        logs = sorted(batch.glob("cluster-study-*.out"))
        log = logs[0].read_text() if logs else "(no job output)"
        assert state == "COMPLETED", record + "\n" + log[-4000:]
        assert "run finished: 12 executed" in log, log[-3000:]

        # the same cluster: srun without PMI (MpiDefault=none, as on many clusters) stops before
        # MPI_Init with exit 2 instead of starting 2 independent 1-rank runs; nothing written
        probe = tmp_path / "probe"
        probe.mkdir()
        (probe / "study.toml").write_text(STUDY)
        q = subprocess.run(["srun", "-n", "2", CLI, str(probe / "study.toml")],
                           cwd=str(probe), env=env, capture_output=True, text=True, timeout=120)
        assert q.returncode == 2, (q.stdout, q.stderr)
        assert "srun --mpi=pmi2" in q.stderr and "Traceback" not in q.stderr, q.stderr
        assert sorted(x.name for x in probe.iterdir()) == ["study.toml"]

    a = open_archive(batch / "study.h5")
    assert {t["status"] for t in a.tasks.values()} == {"done"} and len(a.tasks) == 12
    assert a.provenance["mpi_size"] == 2
    assert_same_archive(local / "study.h5", batch / "study.h5")
