"""Shared test helpers: repository paths and the venv's MPI launcher."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# MLIP reference outputs carried by the repository (origin and licence: tests/data/mlip/README.md)
FIXTURES = REPO / "tests" / "data" / "mlip"
BIN = Path(sys.executable).parent
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


@pytest.fixture
def mlip_fixtures() -> Path:
    """The MLIP reference fixtures (part of the repository: a missing folder is an error, not a skip)."""
    assert (FIXTURES / "LICENSE-motep").is_file(), f"MLIP reference fixtures missing at {FIXTURES}"
    return FIXTURES
