"""Optional short reference MD for the initial data (``active_learning.initial_md_steps``), with
the real reference (tblite GFN1-xTB) on the 52-atom Li6PS5Cl cell.

Asserted: the kept frames are the steps interval, 2 interval, ...; their labels equal a fresh
single-point reference calculation on the same positions (energy, forces, stress); the atoms
really move; the task adds the frames to the rattled copies and records them; the run is
deterministic in the seed; a failing reference keeps what was done and says why.
"""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.learning.initial import reference_md
from argyro_run.learning.reference import ReferenceSpec, make_calculator
from argyro_run.results import Result, add_atoms
from argyro_run.structures import argyrodite

SPEC = ReferenceSpec(timeout_s=300.0, max_retries=0)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    wd = tmp_path_factory.mktemp("refmd")
    return reference_md(argyrodite("Cl"), SPEC, wd, steps=4, temperature_K=600.0, timestep_fs=1.0, interval=2,
                        seed=5), wd


def test_frames_carry_the_reference_labels(frames, tmp_path):
    (fr, st), _ = frames
    assert st["ok"] and st["frames"] == 2 and [f.info["md_step"] for f in fr] == [2, 4]
    start = argyrodite("Cl").positions
    assert np.abs(fr[1].positions - start).max() > 1e-3          # the atoms moved
    a = fr[1].copy()
    a.calc = make_calculator(SPEC, tmp_path)
    # equal up to the SCF convergence of tblite (the MD restarts from the previous step's density)
    assert a.get_potential_energy() == pytest.approx(fr[1].get_potential_energy(), abs=1e-6)
    np.testing.assert_allclose(a.get_forces(), fr[1].get_forces(), atol=1e-3)    # not variational: ~1e-4
    np.testing.assert_allclose(a.get_stress(voigt=True), fr[1].get_stress(voigt=True), atol=1e-5)
    assert np.abs(fr[1].get_forces()).max() > 0.1


def test_deterministic_in_seed(frames, tmp_path):
    (fr, _), _ = frames
    again, _ = reference_md(argyrodite("Cl"), SPEC, tmp_path, steps=2, temperature_K=600.0, timestep_fs=1.0,
                            interval=2, seed=5)
    np.testing.assert_allclose(again[0].positions, fr[0].positions, atol=1e-12)


def test_failure_is_reported_not_raised(tmp_path):
    bad = ReferenceSpec(calculator="no_such_module:Calc", timeout_s=60.0, max_retries=0)
    fr, st = reference_md(argyrodite("Cl"), bad, tmp_path, steps=2, temperature_K=600.0, interval=1, seed=1)
    assert fr == [] and not st["ok"] and "no_such_module" in st["error"]


def test_initial_data_task_adds_md_frames(tmp_path):
    from argyro_run.learning.tasks import run_initial_data

    structs = Result()
    add_atoms(structs, "ordered", argyrodite("Cl"))
    params = {"reference": {"calculator": "tblite", "method": "GFN1-xTB", "electronic_temperature_K": 300.0,
                            "kwargs": {}, "command": None, "timeout_s": 300.0, "max_retries": 0, "fallback": {}},
              "n_rattled": 1, "rattle_amplitude_A": 0.05, "strain_amplitude": 0.01, "seed": 3,
              "initial_md": {"steps": 2, "temperature_K": 500.0, "timestep_fs": 1.0, "interval": 1}}
    res = run_initial_data(params, {"structures/L": structs}, None, tmp_path)
    assert res.attrs[""]["n_images"] == 3                     # 1 rattled copy + 2 MD frames
    np.testing.assert_array_equal(res.get("reference_md/n_frames"), [2])
    assert bool(res.get("reference_md/ok")[0])
