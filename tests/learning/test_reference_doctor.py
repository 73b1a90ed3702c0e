"""``argyro-run doctor`` lists the optional references: chgnet and sevenn (package version and the
pretrained models whose weights the installed wheel ships) and the CP2K shell.

Asserted: each reference row of the real command names the installed package version and every
model of :data:`FOUNDATION_MODELS` whose weights file exists (or "not installed"), and CP2K's
version where Debian's CP2K is installed; the weights files the reference layer loads are real
files inside the package; a CP2K command that does not exist is reported as not found without
making doctor fail (CP2K is optional).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from argyro_run.cli.doctor import cp2k_row, foundation_row
from argyro_run.learning.reference import FOUNDATION_MODELS, foundation_version, foundation_weights


def rows_of_doctor() -> dict[str, str]:
    p = subprocess.run([sys.executable, "-m", "argyro_run.cli", "doctor"], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    return dict(re.split(r"\s{2,}", ln.strip(), maxsplit=1) for ln in p.stdout.splitlines()
                if ln.startswith("reference "))


@pytest.mark.slow
def test_doctor_lists_the_references():
    rows = rows_of_doctor()
    assert set(rows) == {"reference chgnet", "reference sevenn", "reference cp2k"}
    for calc in FOUNDATION_MODELS:
        text = rows[f"reference {calc}"]
        ver = foundation_version(calc)
        if ver == "not installed":
            assert text.startswith("not installed") and "argyro-run[foundation]" in text
            continue
        assert text.startswith(f"{calc} {ver}, models: ")
        listed = text.split("models: ")[1].split(" (")[0].split(", ")
        assert listed == [m for m in FOUNDATION_MODELS[calc] if _ships(calc, m)]
    if shutil.which("cp2k.psmp"):
        assert rows["reference cp2k"].startswith("CP2K version ")


def _ships(calc: str, model: str) -> bool:
    try:
        return foundation_weights(calc, model).is_file()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("calc", list(FOUNDATION_MODELS))
def test_foundation_weights_are_files_in_the_package(calc):
    pytest.importorskip(calc, reason="the 'foundation' extra is not installed (pip install -e '.[foundation]')")
    import importlib.util
    from pathlib import Path

    package = Path(importlib.util.find_spec(calc).origin).parent
    for model in FOUNDATION_MODELS[calc]:
        path = foundation_weights(calc, model)
        assert path.is_file() and path.stat().st_size > 100_000
        assert package in path.parents
    text, broken = foundation_row(calc)
    assert not broken and all(m in text for m in FOUNDATION_MODELS[calc])
    with pytest.raises(ValueError, match="allowed"):
        foundation_weights(calc, "no-such-model")


def test_missing_cp2k_is_reported_not_a_failure(monkeypatch, tmp_path):
    monkeypatch.setenv("ASE_CP2K_COMMAND", str(tmp_path / "no-cp2k-here") + " -s")
    text = cp2k_row()
    assert "not found" in text and "reference.command" in text
