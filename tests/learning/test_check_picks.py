"""What the learning loop's reference checks label (``select.check_picks``, ``select.reference_jobs``):
only runs the grades call clean, whole cells or cut-outs around a host atom, and a cut-out whose
core holds more than the centre atom (``settings.check_radius``)."""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.learning.explore import Exploration
from argyro_run.learning.select import Pick, check_picks, reference_jobs
from argyro_run.learning.settings import LoopSettings
from argyro_run.structures import argyrodite

SPECIES = ["Li", "P", "S", "Cl"]


def _settings(**kw):
    return LoopSettings.of(4, SPECIES, **{"gamma_select": 2.0, "gamma_break": 10.0, "exploration_ps": 1.0,
                                          "temperatures_K": [600.0], "max_dist_A": 5.0, "local_radius_A": 6.0,
                                          "mobile_species": ("Li",), **kw})


def _run(snaps, **kw):
    return Exploration(name="x", temperature_K=600.0, steps_target=10, **{"steps_done": 10, "max_grade": 1.5, **kw},
                       check_snapshots=snaps)


def test_only_clean_runs_are_checked_whole_or_around_a_host_atom():
    s = _settings(check_frames=2, max_reference_atoms=60)
    small, large = argyrodite("Cl"), argyrodite("Cl").repeat((2, 1, 1))
    runs = [_run([small, small]), _run([small], max_grade=3.0), _run([small], steps_done=4), _run([large, large]),
            _run([small], drifted=True)]
    picks = check_picks(runs, s, iteration=3)
    assert [len(g) for g in picks] == [2, 0, 0, 2, 0]
    assert all(p.center is None and p.kind == "check" for p in picks[0])
    symbols = np.array(large.get_chemical_symbols())
    assert all(p.center is not None and symbols[p.center] != "Li" for p in picks[3])
    again = check_picks(runs, s, iteration=3)
    assert [p.center for p in again[3]] == [p.center for p in picks[3]]          # seeded
    assert check_picks(runs, _settings(check_frames=0, max_reference_atoms=60), iteration=3) == [[]] * 5


@pytest.mark.parametrize("kind, core_radius_A", [("maxvol", 1.0), ("drift", 3.0), ("check", 3.0)])
def test_checked_cut_outs_reach_three_angstrom_beyond_the_cutoff(kind, core_radius_A):
    """At the learning's 6 A radius and a 5 A cutoff a selection's cut-out has the centre alone as
    its core; what a check compares (a drift snapshot, a check frame) is cut out 3 A beyond the
    cutoff: every atom within 3 A of the centre."""
    s = _settings(max_reference_atoms=60)
    big = argyrodite("Cl").repeat((2, 2, 2))
    centre = int(np.flatnonzero(np.array(big.get_chemical_symbols()) == "P")[0])
    jobs, _ = reference_jobs([Pick(atoms=big, center=centre, grade=3.0, origin="o", kind=kind)], s, iteration=0)
    d = big.get_distances(centre, range(len(big)), mic=True)
    assert int(np.sum(jobs[0].arrays["force_weight"] > 0)) == int(np.sum(d <= core_radius_A + 1e-9))
    assert int(np.sum(d <= core_radius_A + 1e-9)) == (5 if kind != "maxvol" else 1)    # PS4: P and its 4 S


def test_the_ase_explorer_keeps_the_check_snapshots():
    """The pure-Python explorer (``explorer = "ase"``) keeps a snapshot every snapshot_every_steps,
    and the check takes ``check_frames`` of them evenly spaced after the first tenth, as the LAMMPS
    explorer does: 0.02 ps of 1 fs steps, a snapshot every 5 -> steps 0, 5, ..., 20; two frames ->
    the snapshots of steps 5 and 20, real MD configurations (not the start)."""
    from argyro_run.learning.explore import explore_one_ase
    from argyro_run.potentials.evaluate import site_basis
    from argyro_run.potentials.maxvol import ActiveSet
    from argyro_run.potentials.mtp import init_mtp

    cell = argyrodite("Cl")
    mtp = init_mtp(2, SPECIES, max_dist_A=5.0, min_dist_A=1.6, radial_basis_size=8, seed=1)
    active = ActiveSet(len(site_basis(mtp, cell)[0]))
    active.update(site_basis(mtp, cell))
    s = _settings(check_frames=2, max_reference_atoms=60, explorer="ase", snapshot_every_steps=5, grade_every_steps=5,
                  gamma_select=1e5, gamma_break=1e6, exploration_ps=0.02)
    ex = explore_one_ase(cell, "x", 300.0, mtp, active, s, seed=4)
    assert ex.steps_done == 20 and not ex.error, ex.error
    assert [a.info["step"] for a in ex.check_snapshots] == [5, 20]
    for a in ex.check_snapshots:
        assert a.calc is None and a.info["origin"] == f"x/T300/snapshot{a.info['step']}"
        assert np.abs(a.positions - cell.positions).max() > 1e-4          # moved
