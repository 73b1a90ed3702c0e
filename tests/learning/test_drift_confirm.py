"""A framework drift that the reference confirms (``loop.compared_force_rmse``, ``loop.drift_only``):
the force error is measured around the moved host unit only, exactly, and over the components
``loop.compared_force_components`` counts."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from argyro_run.learning.explore import Exploration
from argyro_run.learning.loop import (
    IterationRecord,
    compared_force_components,
    compared_force_rmse,
    drift_only,
    is_clean,
)
from argyro_run.learning.settings import LoopSettings
from argyro_run.potentials.mtp import init_mtp
from argyro_run.potentials.train import errors, predict
from argyro_run.structures import argyrodite

SPECIES = ["Li", "P", "S", "Cl"]


@pytest.fixture(scope="module")
def mtp():
    m = init_mtp(4, SPECIES, max_dist_A=5.0, min_dist_A=1.6, radial_basis_size=8, seed=4)
    rng = np.random.default_rng(0)
    m.moment_coeffs = rng.normal(scale=0.05, size=len(m.moment_coeffs))     # forces that are not zero
    return m


def _labelled(mtp, atoms, delta):
    """``atoms`` labelled with the MTP's own forces plus ``delta`` (eV/A per atom)."""
    a = atoms.copy()
    p = predict(mtp, a)
    a.calc = SinglePointCalculator(a, energy=p["energy_eV"], forces=p["forces_eV_per_A"] + delta)
    return a


def test_error_far_from_the_drift_is_not_counted(mtp):
    cell = argyrodite("Cl")
    centre, radius = 0, 4.0
    d = cell.get_distances(centre, range(len(cell)), mic=True)
    far = d > radius
    assert far.any() and (~far).sum() > 1
    delta = np.zeros((len(cell), 3))
    delta[far] = [0.3, -0.2, 0.1]
    a = _labelled(mtp, cell, delta)
    a.info["drift_center"] = centre
    assert compared_force_rmse(mtp, [a], radius) == pytest.approx(0.0, abs=1e-10)
    # the whole cell's RMSE sees the error
    assert errors(mtp, [a])["rmse_force_eV_per_A"] > 0.1


def test_error_near_the_drift_is_its_component_rms(mtp):
    cell = argyrodite("Cl")
    centre, radius = 7, 3.5
    v = np.array([0.3, -0.2, 0.1])
    a = _labelled(mtp, cell, np.tile(v, (len(cell), 1)))
    a.info["drift_center"] = centre
    assert compared_force_rmse(mtp, [a], radius) == pytest.approx(np.sqrt(np.sum(v ** 2) / 3), rel=1e-10)
    # a cut-out's core (force_weight) is the region: an error on its rim does not count
    b = _labelled(mtp, cell, np.where(np.arange(len(cell))[:, None] < 10, v, 10 * v))
    b.arrays["force_weight"] = (np.arange(len(cell)) < 10).astype(float)
    assert compared_force_rmse(mtp, [b], radius) == pytest.approx(np.sqrt(np.sum(v ** 2) / 3), rel=1e-10)
    # the components it is over: 3 per atom within the radius of the moved unit, 3 per core atom
    near = int(np.sum(cell.get_distances(centre, range(len(cell)), mic=True) <= radius))
    assert 1 < near < len(cell)
    assert compared_force_components([a], radius) == 3 * near
    assert compared_force_components([b], radius) == 30
    plain = _labelled(mtp, cell, 0.0)                       # a whole cell without either: every atom
    assert compared_force_components([a, b, plain], radius) == 3 * near + 30 + 3 * len(cell)
    assert compared_force_components([], radius) == 0


def test_only_a_full_clean_run_that_drifted_is_drift_only():
    s = LoopSettings.of(4, SPECIES, gamma_select=2.0, gamma_break=10.0, exploration_ps=1.0, temperatures_K=[600.0])
    snap = argyrodite("Cl")
    ok = Exploration(name="x", temperature_K=600.0, steps_target=10, steps_done=10, drifted=True, drift_snapshot=snap,
                     max_grade=1.5)
    assert drift_only(ok, s)
    assert not drift_only(Exploration(name="x", temperature_K=600.0, steps_target=10, steps_done=10, drifted=True,
                                      drift_snapshot=snap, max_grade=2.5), s)           # extrapolated too
    assert not drift_only(Exploration(name="x", temperature_K=600.0, steps_target=10, steps_done=4, drifted=True,
                                      drift_snapshot=snap, max_grade=1.5), s)           # stopped early
    assert not drift_only(Exploration(name="x", temperature_K=600.0, steps_target=10, steps_done=10, max_grade=1.5), s)
    # a round whose only unclean runs were confirmed is clean
    rec = IterationRecord(index=0, n_explorations=4, n_need_selection=2, n_drift_confirmed=2)
    assert not is_clean(rec, s)
    rec.n_need_selection -= rec.n_drift_confirmed
    assert is_clean(rec, s)
