"""A pick must be labellable: in a grain-boundary cell above ``max_reference_atoms`` some neighbourhoods
have no charge-neutral cut-out (whole molecular units; four atoms of this frame of the quickstart's
Sigma5 bicrystal at 600 K, ``tests/data/gb_sigma5_md_frame.extxyz``). The quickstart once spent every
pick of a round on such neighbourhoods and stopped ("every reference calculation failed"). Now the
next neighbourhood takes the place of one that cannot be cut out. Real cut-outs, real MaxVol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.io import read

from argyro_run.learning.explore import Exploration
from argyro_run.learning.local import cut_out
from argyro_run.learning.select import can_label, physics_picks, reference_jobs, select
from argyro_run.learning.settings import LoopSettings
from argyro_run.potentials.maxvol import ActiveSet

FRAME = Path(__file__).resolve().parents[1] / "data" / "gb_sigma5_md_frame.extxyz"
M = 6


def _settings(**kw):
    return LoopSettings.of(6, ["Li", "P", "S", "Cl"], max_dist_A=5.0, min_dist_A=1.6, local_radius_A=6.0,
                           max_reference_atoms=60, local_mode="periodic", gamma_select=1.01, **kw)


def _frame(origin):
    a = read(FRAME)
    a.info["origin"] = origin
    return a


BAD = (59, 118, 119, 120)      # the frame's atoms whose cut-out (local radius 6 A) cannot be made neutral
GOOD = 0


def _graded(a, top: dict):
    """MaxVol rows of an identity active set: small everywhere, ``top[atom] = (axis, grade)``."""
    rows = np.random.default_rng(1).normal(0.0, 0.05, (len(a), M))
    for atom, (axis, g) in top.items():
        rows[atom] = 0.0
        rows[atom, axis] = g
    a.info["_rows"] = rows
    active = ActiveSet(M)
    active.update(np.eye(M))
    a.arrays["grade"] = active.grades(rows)
    return active


def test_can_label_is_whether_the_cut_out_can_be_made():
    s, a = _settings(), _frame("gb")
    for c in BAD:
        with pytest.raises(ValueError, match="charge neutral"):
            cut_out(a, c, radius_A=s.local_radius(), cutoff_A=s.max_dist_A, mode="periodic")
        assert not can_label(a, c, "maxvol", s)
    for c in (GOOD, 1, 41):
        assert len(cut_out(a, c, radius_A=s.local_radius(), cutoff_A=s.max_dist_A, mode="periodic")) > 0
        assert can_label(a, c, "maxvol", s)
    assert can_label(a, None, "maxvol", s)


def test_maxvol_passes_over_a_neighbourhood_without_a_cut_out():
    s, a = _settings(max_selected_per_iteration=1), _frame("gb")
    active = _graded(a, {BAD[0]: (0, 10.0), GOOD: (1, 5.0)})
    ex = Exploration(name="gb", temperature_K=600, steps_target=10, steps_done=10)
    ex.candidates = [a]
    picks = select(active, [ex], s)
    assert [(p.center, p.grade) for p in picks] == [(GOOD, pytest.approx(5.0))]
    jobs, _ = reference_jobs(picks, s, 0)
    assert len(jobs) == 1 and jobs[0].info["origin"].endswith(f"/atom{GOOD}")


def test_a_configuration_is_given_up_after_three_neighbourhoods_without_a_cut_out():
    s, a, b = _settings(max_selected_per_iteration=1), _frame("first"), _frame("second")
    active = _graded(a, {BAD[0]: (0, 10.0), BAD[1]: (1, 9.0), BAD[2]: (2, 8.0), GOOD: (3, 7.0)})
    _graded(b, {GOOD: (4, 6.0)})
    ex = Exploration(name="gb", temperature_K=600, steps_target=10, steps_done=10)
    ex.candidates = [a, b]
    picks = select(active, [ex], s)
    assert [(p.origin, p.center) for p in picks] == [(f"second/atom{GOOD}", GOOD)]
    # two failures only: the same configuration's next neighbourhood
    active = _graded(a, {BAD[0]: (0, 10.0), BAD[1]: (1, 9.0), GOOD: (3, 7.0)})
    picks = select(active, [ex], s)
    assert [(p.origin, p.center) for p in picks] == [(f"first/atom{GOOD}", GOOD)]


def test_precursors_are_the_latest_snapshots_that_can_be_cut_out():
    """A broken run's precursors are centred on the closest pair; the last snapshot's (a Li pushed
    1.75 A from the phosphorus atom 59) has no cut-out, so the two before it are labelled."""
    from argyro_run.learning.select import _closest

    s, a = _settings(n_precursors=2), _frame("gb")
    torn = a.copy()
    torn.positions[84] = a.positions[59] + 1.75 * np.array([0.90380033, -0.1069635, -0.41437154])
    assert _closest(torn, 3.0) == (pytest.approx(1.75), 59) and not can_label(torn, 59, "precursor", s)
    assert can_label(a, _closest(a, 3.0)[1], "precursor", s)
    snaps = []
    for k, x in enumerate([a, a, torn]):
        y = x.copy()
        y.info["origin"] = f"snap{k}"
        snaps.append(y)
    ex = Exploration(name="gb", temperature_K=600, steps_target=10, steps_done=5, broke=True)
    ex.snapshots = snaps
    picks = physics_picks([ex], s)
    assert [p.origin.split("/")[0] for p in picks] == ["snap1", "snap0"]
    assert all(p.kind == "precursor" and p.center == _closest(a, 3.0)[1] for p in picks)
