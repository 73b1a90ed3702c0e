"""Greedy D-optimal selection of the loop (``select.select``) on explicit neighbourhood rows."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from argyro_run.learning.explore import Exploration
from argyro_run.learning.select import select
from argyro_run.learning.settings import LoopSettings
from argyro_run.potentials.maxvol import ActiveSet

N_BASIS = 6


def _active(rng, n_train=200):
    a = ActiveSet(N_BASIS)
    a.update(rng.normal(size=(n_train, N_BASIS)))
    return a


def _cand(rows, active, n_atoms, origin, spacing=3.0):
    pos = np.stack([np.arange(n_atoms) * spacing, np.zeros(n_atoms), np.zeros(n_atoms)], axis=1)
    # Li+ and Cl- in turn: a large cell's cut-outs can be made charge neutral (select.can_label)
    a = Atoms((["Li", "Cl"] * n_atoms)[:n_atoms], positions=pos, cell=[n_atoms * spacing, 20, 20], pbc=True)
    a.info["_rows"] = rows
    a.info["origin"] = origin
    a.arrays["grade"] = active.grades(rows)
    return a


def _explorations(cands):
    ex = Exploration(name="x", temperature_K=600, steps_target=10, steps_done=3, broke=True)
    ex.candidates = cands
    return [ex]


def test_selection_covers_every_candidate_or_hits_the_cap():
    rng = np.random.default_rng(0)
    active = _active(rng)
    inv0 = active.inverse.copy()
    # 12 small configurations: 4 far outside the training rows, 8 inside
    cands = []
    for k in range(12):
        scale = 6.0 if k % 3 == 0 else 0.2
        cands.append(_cand(rng.normal(size=(5, N_BASIS)) * scale, active, 5, f"c{k}"))
    s = LoopSettings.of(4, ["Li"], gamma_select=2.0, max_selected_per_iteration=50, max_reference_atoms=10)
    picks = select(active, _explorations(cands), s)
    assert np.array_equal(active.inverse, inv0)            # the caller's active set is untouched
    assert 1 <= len(picks) <= 4
    assert all(p.center is None for p in picks)             # small cells: whole
    assert {p.origin for p in picks} <= {f"c{k}" for k in range(0, 12, 3)}
    assert picks[0].grade == max(c.arrays["grade"].max() for c in cands)
    # after adding the picks, nothing left is above gamma_select
    trial = ActiveSet(N_BASIS)
    trial.rows, trial.inverse = active.rows.copy(), active.inverse.copy()
    chosen = {p.origin for p in picks}
    trial.update(np.concatenate([c.info["_rows"] for c in cands if c.info["origin"] in chosen]), threshold=1.001)
    rest = np.concatenate([c.info["_rows"] for c in cands if c.info["origin"] not in chosen])
    assert trial.grades(rest).max() <= 2.0
    # every pick was above gamma_select when it was made
    assert all(p.grade > 2.0 for p in picks)
    # the cap
    s1 = LoopSettings.of(4, ["Li"], gamma_select=2.0, max_selected_per_iteration=1, max_reference_atoms=10)
    assert len(select(active, _explorations(cands), s1)) == 1


def test_nothing_selected_below_gamma_select():
    rng = np.random.default_rng(1)
    active = _active(rng)
    cands = [_cand(rng.normal(size=(4, N_BASIS)) * 0.05, active, 4, f"c{k}") for k in range(5)]
    assert max(c.arrays["grade"].max() for c in cands) < 2.0
    s = LoopSettings.of(4, ["Li"], gamma_select=2.0)
    assert select(active, _explorations(cands), s) == []


def test_large_cells_pick_atoms_and_their_cores():
    rng = np.random.default_rng(2)
    active = _active(rng)
    n = 30
    rows = rng.normal(size=(n, N_BASIS)) * 0.1
    rows[7] = rng.normal(size=N_BASIS) * 8.0       # one extrapolating atom ...
    rows[8] = rows[7] * 0.9                         # ... and its neighbour (1.5 A away: same core)
    rows[20] = -rows[7] * 0.9                       # far away but the same direction of basis space
    c = _cand(rows, active, n, "gb", spacing=1.5)
    s = LoopSettings.of(4, ["Li"], gamma_select=2.0, max_reference_atoms=10, local_radius_A=6.6,
                     max_dist_A=5.0, max_selected_per_iteration=10)
    picks = select(active, _explorations([c]), s)
    # atom 7 is cut out; its core (1.6 A) holds atom 8 too, which covers 8 and 20 as well
    assert [p.center for p in picks] == [7]
    assert picks[0].origin == "gb/atom7"

