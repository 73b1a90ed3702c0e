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
    physics_picks,
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


def _snapshots(n=40, drift_after=None, seed=3):
    """Snapshots of the 27-atom lattice with thermal jitter (Li mobile, S the host); with
    ``drift_after`` one S atom (index 1) moves 2.5 A from that snapshot on."""
    rng = np.random.default_rng(seed)
    base = _lattice()
    out = []
    for k in range(n):
        a = base.copy()
        a.positions += rng.normal(scale=0.1, size=a.positions.shape)
        if drift_after is not None and k >= drift_after:
            a.positions[1] += [0.0, 2.5, 0.0]
        a.arrays["unwrapped"] = a.positions.copy()
        a.info["step"] = 100 * k
        a.info["origin"] = f"bulk/T900/snapshot{100 * k}"
        out.append(a)
    return out


def test_exploration_framework_check_flags_a_drift_and_keeps_where_it_happened():
    from argyro_run.learning.explore import _framework

    s = LoopSettings.of(4, ["Li", "S"], mobile_species=("Li",), max_host_displacement_A=0.5)
    quiet = Exploration(name="q", temperature_K=900, steps_target=4000, steps_done=4000)
    _framework(quiet, _snapshots(), s)
    assert not quiet.drifted and quiet.host_displacement_A.max() < 0.2
    assert not quiet.needs_selection(2.0)
    assert [a.info["step"] for a in quiet.snapshots] == [3700, 3800, 3900]      # n_precursors + 1 kept
    moved = Exploration(name="m", temperature_K=900, steps_target=4000, steps_done=4000)
    _framework(moved, _snapshots(drift_after=20), s)
    # one of 13 S atoms off by 2.5 A: RMS 2.5 sqrt(12) / 13 ~ 0.67 A from the window that holds the move
    assert moved.drifted and moved.host_displacement_A[-1] == pytest.approx(2.5 * np.sqrt(12) / 13, abs=0.08)
    assert moved.needs_selection(2.0)                                          # completed, yet not converged
    assert moved.drift_snapshot.info["center"] == 1 and moved.drift_snapshot.info["step"] >= 2000
    # active_learning.check_framework = false (plan/build.py passes no limit): grades alone decide
    off = Exploration(name="o", temperature_K=900, steps_target=4000, steps_done=4000)
    _framework(off, _snapshots(drift_after=20), LoopSettings.of(4, ["Li", "S"], mobile_species=("Li",)))
    assert not off.drifted and not off.needs_selection(2.0)
    # the picks: the drift snapshot, centred on the moved atom when the cell is too big to label whole
    picks = physics_picks([moved], LoopSettings.of(4, ["Li", "S"], max_reference_atoms=10))
    assert [(p.kind, p.center) for p in picks] == [("drift", 1)]


def test_a_collapse_labels_its_physical_precursors():
    s = LoopSettings.of(4, ["Li", "S"], min_dist_A=1.6, n_precursors=2)
    snaps = _snapshots(n=4)
    squeezed = snaps[-1].copy()
    squeezed.positions[1] = squeezed.positions[0] + [0.0, 0.0, 1.0]         # the last snapshot: already too close
    squeezed.info = dict(snaps[-1].info)
    ex = Exploration(name="c", temperature_K=900, steps_target=1000, steps_done=350, broke=True)
    ex.snapshots = [*snaps[1:3], squeezed]
    picks = physics_picks([ex], s)
    assert [p.kind for p in picks] == ["precursor", "precursor"]
    assert [p.atoms.info["step"] for p in picks] == [200, 100]                # latest physical first
    assert all(p.center is None for p in picks)                               # 27 atoms: labelled whole
    # a run that went its length without a collapse gives none
    fine = Exploration(name="f", temperature_K=900, steps_target=1000, steps_done=1000)
    fine.snapshots = snaps
    assert physics_picks([fine], s) == []


def test_picks_share_the_per_iteration_cap():
    from argyro_run.learning.select import Pick, share_picks

    mv = [Pick(atoms=None, center=None, grade=5.0, origin=f"m{k}") for k in range(10)]
    ph = [Pick(atoms=None, center=None, grade=float("nan"), origin=f"p{k}", kind="precursor") for k in range(10)]
    assert [p.origin for p in share_picks(mv, ph, 4)] == ["p0", "p1", "m0", "m1"]            # half each
    assert [p.origin for p in share_picks(mv, ph, 5)] == ["p0", "p1", "p2", "m0", "m1"]
    assert [p.origin for p in share_picks(mv[:1], ph, 4)] == ["p0", "p1", "p2", "m0"]        # MaxVol leaves room
    assert [p.origin for p in share_picks(mv, ph[:1], 4)] == ["p0", "m0", "m1", "m2"]
    assert [p.origin for p in share_picks([], [], 4)] == []


def test_max_iterations_reason_counts_the_drifting_runs():
    s = LoopSettings.of(4, ["Li"], max_iterations=3)
    rec = IterationRecord(index=3, n_explorations=8, n_need_selection=4, max_grades=np.zeros(8), n_drifted=4)
    converged, reason = stop_reason(rec, s, 3, picks=["p"])
    assert not converged and "4 of 8 exploration(s) still need selection, 4 with a drifting framework" in reason


def test_a_long_dump_is_thinned_to_physical_frames_near_the_evenly_spaced_ones():
    """A 20-ps exploration above gamma_select dumps ~10^4 frames: only the evenly spaced ones kept
    (``max_candidates_per_run``) are tested for a collapsed pair, and one that has a pair below the
    limit gives way to its nearest physical neighbour (the earlier one on a tie)."""
    good, bad = _lattice(seed=1), _lattice(shift_A=2.2, seed=2)
    frames = []
    for k in range(200):
        a = (bad if k in (0, 5, 21, 199) else good).copy()
        a.info["origin"] = f"f{k}"
        frames.append(a)
    targets = np.unique(np.round(np.linspace(0, 199, 20)).astype(int))
    assert {0, 21, 199} <= set(targets) and 5 not in targets and 20 not in targets
    ex = Exploration(name="x", temperature_K=900, steps_target=100, steps_done=100)
    ex.candidates = list(frames)
    assert drop_unphysical([ex], 1.6, max_kept=20) == 3       # frames 0, 21, 199 examined; 5 never
    kept = [int(a.info["origin"][1:]) for a in ex.candidates]
    expected = sorted({*targets} - {0, 21, 199} | {1, 20, 198})
    assert kept == expected and ex.n_unphysical == 3
    # without a cap every frame is tested, as before
    ex2 = Exploration(name="y", temperature_K=900, steps_target=100, steps_done=100)
    ex2.candidates = list(frames)
    assert drop_unphysical([ex2], 1.6) == 4 and len(ex2.candidates) == 196
    # a long collapsed tail is not searched frame by frame: its targets find no physical frame within
    # their probe radius and are dropped, at a bounded number of closest-pair tests
    tail = [good if k < 300 else bad for k in range(1000)]
    ex4 = Exploration(name="t", temperature_K=900, steps_target=100, steps_done=100)
    ex4.candidates = list(tail)
    n_bad = drop_unphysical([ex4], 1.6, max_kept=20)
    t4 = np.unique(np.round(np.linspace(0, 999, 20)).astype(int))
    assert len(ex4.candidates) == int(np.sum(t4 < 300)) and all(a is good for a in ex4.candidates)
    assert 14 <= n_bad <= 20 * 11 and ex4.n_unphysical == n_bad
    # a run whose frames are all collapsed keeps none
    ex3 = Exploration(name="z", temperature_K=900, steps_target=100, steps_done=100)
    ex3.candidates = [bad.copy() for _ in range(30)]
    assert drop_unphysical([ex3], 1.6, max_kept=20) == 30 and ex3.candidates == []
