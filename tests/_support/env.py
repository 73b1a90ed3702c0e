"""Where things are for the tests: the repository, its test data, the venv's executables and
its MPI launcher (never a system mpirun)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# MLIP reference outputs carried by the repository (origin and licence: tests/data/mlip/README.md)
FIXTURES = REPO / "tests" / "data" / "mlip"
BIN = Path(sys.executable).parent
CLI = str(BIN / "argyro-run")
MPIEXEC = BIN / "mpiexec"


def run_mpi(n: int, args: list[str], timeout: float = 300, env: dict | None = None,
            **kw) -> subprocess.CompletedProcess:
    """Run ``mpiexec -n n <python> args`` with the venv's MPI (``env``: extra environment
    variables); returns the completed process."""
    full = dict(os.environ)
    full.setdefault("OMP_NUM_THREADS", "1")
    full.update(env or {})
    return subprocess.run(
        [str(MPIEXEC), "-n", str(n), sys.executable, *args],
        capture_output=True, text=True, timeout=timeout, env=full, **kw,
    )
