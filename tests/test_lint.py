"""The repository passes the linter configured in pyproject.toml ([tool.ruff]: line length, rules).
ruff is part of the ``test`` extra: a test environment without it fails here."""

from __future__ import annotations

import subprocess
import sys

from tests._support.env import REPO


def test_ruff_finds_nothing():
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", str(REPO)],
                       capture_output=True, text=True, timeout=300, cwd=str(REPO))
    assert p.returncode == 0, (p.stdout + p.stderr)[-6000:]
