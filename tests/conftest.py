"""Session fixtures and hooks only; the helpers the tests import live in ``tests/_support/``
(``env``: paths, the venv's executables and MPI launcher)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support.env import FIXTURES


@pytest.fixture
def mlip_fixtures() -> Path:
    """The MLIP reference fixtures (part of the repository: a missing folder is an error, not a skip)."""
    assert (FIXTURES / "LICENSE-motep").is_file(), f"MLIP reference fixtures missing at {FIXTURES}"
    return FIXTURES
