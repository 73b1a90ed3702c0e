"""What the loop keeps out of the training set (issue 16's validation study found it missing):
exploration candidates whose MD had already collapsed (a pair closer than the MTP's radial basis
reaches, ``active_learning.min_distance_A``) and labels with collapsed-geometry forces
(``active_learning.max_force_eV_per_A``). Real MTP rows and MaxVol grades, hand-made geometries."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from argyro_run.learning.explore import Exploration
from argyro_run.learning.loop import IterationRecord, stop_reason
from argyro_run.learning.select import (
    closest_pair_A,
    drop_unphysical,
    grade_candidates,
    min_distance_A,
    select,
    within_force_limit,
)
from argyro_run.learning.settings import LoopSettings
from argyro_run.potentials.evaluate import site_basis
from argyro_run.potentials.maxvol import ActiveSet
from argyro_run.potentials.mtp import init_mtp

L_A = 9.0


def _lattice(shift_A=0.0, seed=0):
    """Simple-cubic Li/S lattice (27 atoms, nearest neighbours 3 A), rattled; optionally one atom
    moved towards its neighbour by ``shift_A``."""
    rng = np.random.default_rng(seed)
    g = np.arange(3) * 3.0
    pos = np.array([[x, y, z] for x in g for y in g for z in g]) + 0.5 + rng.normal(0, 0.05, (27, 3))
    pos[1, 2] -= shift_A                      # atom 1 sits above atom 0 along z
    return Atoms(["Li", "S"] * 13 + ["Li"], positions=pos, cell=[L_A] * 3, pbc=True)


def test_closest_pair_uses_the_minimum_image():
    a = Atoms("Li2", positions=[[0.2, 1, 1], [L_A - 0.3, 1, 1]], cell=[L_A] * 3, pbc=True)
    assert closest_pair_A(a, 3.0) == pytest.approx(0.5)
    assert closest_pair_A(Atoms("Li2", positions=[[0, 0, 0], [4, 0, 0]], cell=[L_A] * 3, pbc=True), 3.0) == np.inf


def test_min_distance_defaults_to_the_radial_basis_start():
    assert min_distance_A(LoopSettings.of(4, ["Li", "S"], min_dist_A=1.7)) == 1.7
    assert min_distance_A(LoopSettings.of(4, ["Li", "S"], min_dist_A=1.7, min_distance_A=1.2)) == 1.2


def test_collapsed_candidates_are_dropped_before_maxvol_would_pick_them_first():
    mtp = init_mtp(4, ["Li", "S"], max_dist_A=4.0, min_dist_A=1.6, seed=3)
    train = [_lattice(seed=k) for k in range(3)]
    active = ActiveSet(len(site_basis(mtp, train[0])[0]))
    active.update(np.concatenate([site_basis(mtp, a) for a in train]))
    physical = [_lattice(shift_A=s, seed=10 + k) for k, s in enumerate([0.4, 0.8, 1.0])]   # pairs 2.0-2.6 A
    collapsed = _lattice(shift_A=2.2, seed=20)                                                # a pair at ~0.8 A
    assert closest_pair_A(collapsed, 3.0) < 1.0 and min(closest_pair_A(a, 3.0) for a in physical) > 1.8
    ex = Exploration(name="x", temperature_K=900, steps_target=100, steps_done=40, broke=True)
    ex.candidates = [*physical, collapsed]
    for k, a in enumerate(ex.candidates):
        a.info["origin"] = f"c{k}"
    # without the filter the collapsed configuration extrapolates most: MaxVol's first pick
    grades = [active.grades(site_basis(mtp, a)).max() for a in ex.candidates]
    assert int(np.argmax(grades)) == 3
    s = LoopSettings.of(4, ["Li", "S"], min_dist_A=1.6, gamma_select=1.01, max_selected_per_iteration=10)
    grade_candidates(mtp, active, [ex], s)
    assert ex.n_unphysical == 1 and len(ex.candidates) == 3
    assert "c3" not in {a.info["origin"] for a in ex.candidates}
    assert ex.max_grade == pytest.approx(max(grades[:3]))
    assert "c3" not in {p.origin for p in select(active, [ex], s)}
    # a looser limit keeps it
    ex2 = Exploration(name="y", temperature_K=900, steps_target=100, steps_done=40, broke=True)
    ex2.candidates = [collapsed]
    assert drop_unphysical([ex2], 0.5) == 0 and ex2.candidates == [collapsed]


def _labelled(f_max, on_rim=False):
    a = _lattice()
    f = np.zeros((len(a), 3))
    f[:, 0] = 1.0
    f[5, 1] = f_max
    if on_rim:
        w = np.ones(len(a))
        w[5] = 0.0
        a.arrays["force_weight"] = w
    a.calc = SinglePointCalculator(a, energy=-1.0, forces=f)
    return a


def test_labels_above_the_force_limit_are_kept_out():
    ok, hot, rim = _labelled(20.0), _labelled(300.0), _labelled(300.0, on_rim=True)
    kept, rejected = within_force_limit([ok, hot, rim], 30.0)
    assert kept == [ok, rim] and rejected == [hot]          # the rim of a cut-out is not fitted
    assert within_force_limit([ok, hot], 0.0) == ([ok, hot], [])
    assert within_force_limit([ok], 19.0) == ([], [ok])


def test_stop_reasons_name_the_filters():
    s = LoopSettings.of(4, ["Li"], min_dist_A=1.6, max_force_eV_per_A=30.0)
    rec = IterationRecord(index=1, n_explorations=2, n_need_selection=2, max_grades=np.array([3.0, 9.0]),
                          n_unphysical=4)
    converged, reason = stop_reason(rec, s, 1, picks=[])
    assert not converged and "4 candidate(s) had a pair closer than 1.6 A (active_learning.min_distance_A)" in reason
    rec.n_rejected_force = 2
    converged, reason = stop_reason(rec, s, 1, picks=["p"], labelled=[])
    assert not converged and "active_learning.max_force_eV_per_A = 30 eV/A" in reason
