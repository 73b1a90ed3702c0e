"""Session fixtures. The helpers themselves live in ``tests/_support/`` (``env``: paths, the venv's
executables and MPI launcher); the names below are imported from there for the test modules that
still import them from here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support.env import BIN, FIXTURES, MPIEXEC, REPO, run_mpi  # noqa: F401


@pytest.fixture
def mlip_fixtures() -> Path:
    """The MLIP reference fixtures (part of the repository: a missing folder is an error, not a skip)."""
    assert (FIXTURES / "LICENSE-motep").is_file(), f"MLIP reference fixtures missing at {FIXTURES}"
    return FIXTURES
