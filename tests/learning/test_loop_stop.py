"""When a level of the loop stops (``loop.stop_reason``), on hand-made iteration records."""

from __future__ import annotations

import numpy as np

from argyro_run.learning.loop import IterationRecord, stop_reason
from argyro_run.learning.settings import LoopSettings


def _record(n_explorations=4, need=1, completed=3, index=0):
    return IterationRecord(index=index, n_explorations=n_explorations, n_need_selection=need, n_completed=completed,
                           max_grades=np.array([1.0, 2.5, 0.0, 1.5]))


def test_converged_when_few_enough_runs_need_selection():
    s = LoopSettings.of(4, ["Li"], converged_fraction=0.25, max_iterations=3, exploration_ps=2.0)
    converged, reason = stop_reason(_record(need=1), s, 0, picks=[])
    assert converged and reason.startswith("converged: 3 of 4 exploration(s) ran their full 2 ps, 1 needed")
    # one run more than allowed: not converged, and with picks the loop goes on
    assert stop_reason(_record(need=2), s, 0, picks=["p"]) == (False, "")


def test_the_other_stops_in_order():
    s = LoopSettings.of(4, ["Li"], max_iterations=3)
    rec = _record(need=2, index=1)
    converged, reason = stop_reason(rec, s, 3, picks=["p"])        # the last iteration explores only
    assert not converged and reason.startswith("not converged: stopped at max_iterations = 3")
    assert "(max grade 2.5)" in reason
    assert stop_reason(rec, s, 1, picks=[]) == (False, "stopped: explorations extrapolate but no candidate "
                                                       "configuration could be selected")
    assert stop_reason(rec, s, 1, picks=["p"], labelled=[]) == (False, "stopped: every reference calculation of "
                                                                       "iteration 1 failed")
    assert stop_reason(rec, s, 1, picks=["p"], labelled=["image"]) == (False, "")


def test_converged_rounds_wants_clean_rounds_in_a_row():
    """converged_rounds = 3: a clean round short of three goes on exploring (no reason, no stop),
    the third in a row converges, and a clean round after max_iterations refits still counts."""
    s = LoopSettings.of(4, ["Li"], converged_rounds=3, max_iterations=2)
    clean = _record(need=0, completed=4)
    for n in (1, 2):
        assert stop_reason(clean, s, 2, picks=None, clean_rounds=n) == (False, "")
    converged, reason = stop_reason(clean, s, 2, picks=None, clean_rounds=3)
    assert converged and reason.endswith("in 3 consecutive rounds")
    # a round that needs selection after the refits are spent ends the level unconverged
    converged, reason = stop_reason(_record(need=1), s, 2, picks=None, clean_rounds=0)
    assert not converged and reason.startswith("not converged: stopped at max_iterations = 2")
