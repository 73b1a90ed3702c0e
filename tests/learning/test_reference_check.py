"""The reference check of MD frames (``md.reference_check_frames``, ``learning/check.py``,
``learning/tasks.run_reference_check``) through the runtime: real LAMMPS MD with the trained test MTP,
real tblite labels.

Asserted: the archived force and energy errors of the bulk cell's frames equal an independent
recomputation (the same frames labelled again with tblite, the Python MTP); the bicrystal, larger
than ``max_reference_atoms``, is checked on cut-outs (forces of the core only, no energy); the
frames are evenly spaced after the run's first tenth; without a learned potential there is no
training error to compare with; and the key needs every atom's trajectory (exit 2, the key named).
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from argyro_run._stack import MPI  # noqa: F401  (import order)
from argyro_run.archive import open_archive
from argyro_run.learning.check import frame_indices
from argyro_run.learning.dataset import label_images, spec_from_params
from argyro_run.potentials.mtp import parse_mtp
from argyro_run.potentials.train import errors
from tests._support.inputs import LPSCL, SIGMA5_310, TEST_MTP, TEST_POTENTIAL, run_input

INPUT = """
[run]
name = "check"
archive = "out.h5"
seed = 2
""" + LPSCL + SIGMA5_310 + TEST_POTENTIAL + """max_reference_atoms = 100

[md]
temperatures_K = [700.0]
timestep_fs = 2.0
equilibration_ps = 0.5
production_ps = 2.0
dump_interval_fs = 20.0
gamma_break = 0
max_host_displacement_A = 5.0
trajectory_atoms = "all"
reference_check_frames = 2
"""


def test_frame_indices():
    assert list(frame_indices(101, 2)) == [10, 100]
    assert list(frame_indices(101, 3)) == [10, 55, 100]
    assert len(frame_indices(1, 3)) == 0 and len(frame_indices(50, 0)) == 0


@pytest.mark.slow
def test_md_frames_checked_against_the_reference(tmp_path):
    run_input(tmp_path, INPUT)
    a = open_archive(tmp_path / "out.h5")
    assert {t["status"] for t in a.tasks.values()} == {"done"}
    mtp = parse_mtp(TEST_MTP.read_text())
    bulk = a.result("check/LPSCl/ordered")
    np.testing.assert_array_equal(bulk.get("temperatures_K"), [700.0])
    md = a.result("md/LPSCl/ordered/T700")
    samples = bulk.get("sample_index")[0]
    np.testing.assert_array_equal(samples, frame_indices(len(md.get("time_ps")), 2))
    structure = a.atoms("structures/LPSCl", "ordered")
    frames = []
    for k in samples:
        f = Atoms(numbers=structure.numbers, positions=md.get("trajectory/positions_A")[k].astype(float),
                  cell=md.get("trajectory/cell_A"), pbc=True)
        f.wrap()
        frames.append(f)
    again, st = label_images(frames, spec_from_params({"calculator": "tblite"}), tmp_path / "again")
    assert st.failed == 0
    for j, img in enumerate(again):
        m = errors(mtp, [img])
        assert bulk.get("force_rmse_eV_per_A")[0, j] == pytest.approx(m["rmse_force_eV_per_A"], rel=1e-8)
        assert bulk.get("energy_error_meV_per_atom")[0, j] == pytest.approx(m["rmse_energy_meV_per_atom"], rel=1e-8)
        assert bulk.get("n_atoms_compared")[0, j] == 52
    # the run's RMSE is over every compared atom of its frames: the two frames together
    assert bulk.get("run_force_rmse_eV_per_A")[0] == pytest.approx(errors(mtp, again)["rmse_force_eV_per_A"], rel=1e-8)
    at = bulk.attrs[""]
    assert at["n_labelled"] == 2 and at["n_failed"] == 0
    assert np.isnan(at["train_force_rmse_eV_per_A"]) and np.isnan(at["worst_force_ratio"])   # a potential file
    gb = a.result("check/LPSCl/gb_sigma5_310")
    F, E = gb.get("force_rmse_eV_per_A"), gb.get("energy_error_meV_per_atom")
    assert F.shape == (1, 2) and np.all(np.isfinite(F)) and np.all(F > 0)
    assert np.all(np.isnan(E))                                   # cut-outs: no energy to compare
    n = gb.get("n_atoms_compared")[0]
    assert np.all(n > 1) and np.all(n < 148)                     # a core of several atoms (CHECK_CORE_RADIUS_A)
    pooled = np.sqrt(np.sum(n * F[0] ** 2) / np.sum(n))
    assert gb.get("run_force_rmse_eV_per_A")[0] == pytest.approx(pooled, rel=1e-12)


def test_the_check_needs_every_atom(tmp_path):
    p = run_input(tmp_path, INPUT.replace('trajectory_atoms = "all"', 'trajectory_atoms = "species"'), check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    out = p.stdout + p.stderr
    assert "reference_check_frames" in out and "trajectory_atoms" in out and "Traceback" not in out
