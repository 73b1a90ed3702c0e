"""Run by test_tasks.py under mpiexec -n 2: every rank runs the task; results must agree."""

import hashlib
import sys
import tempfile
from pathlib import Path

from argyro_run._stack import MPI
from argyro_run.config import load_config
from argyro_run.plan import build_plan
from argyro_run.structures.tasks import run_build_structures

comm = MPI.COMM_WORLD
cfg = load_config(Path(sys.argv[1]))
task = build_plan(cfg)[sys.argv[2]]
with tempfile.TemporaryDirectory() as tmp:
    result = run_build_structures(task.params, {}, comm, Path(tmp))
h = hashlib.sha256()
for path in sorted(result.datasets):
    h.update(path.encode())
    h.update(result.datasets[path].tobytes())
digests = comm.gather(h.hexdigest(), root=0)
if comm.rank == 0:
    assert len(set(digests)) == 1, digests
    print("DIGEST", digests[0], len(result.datasets))
