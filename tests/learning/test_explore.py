"""One exploration run for real (LAMMPS + the MTP plugin, the test potential on the 52-atom
Li6PS5Cl cell): it runs its full length below the thresholds, and its snapshots carry unwrapped
positions consistent with the wrapped ones (an integer number of cell vectors apart, the same
offset for every atom) and continuous in time, which the framework check relies on."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from argyro_run._stack import MPI
from argyro_run.learning.explore import explore_one
from argyro_run.learning.settings import LoopSettings
from argyro_run.structures.argyrodite import argyrodite

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "mtp"
SPECIES = ["Li", "P", "S", "Cl"]


@pytest.fixture(scope="module")
def exploration(tmp_path_factory):
    from argyro_run.potentials.plugin import plugin_path

    plugin_path(build=True)
    s = LoopSettings.of(8, SPECIES, gamma_select=1e5, gamma_break=1e6, exploration_ps=1.0,
                        snapshot_every_steps=100, n_precursors=50)
    return explore_one(argyrodite("Cl"), "ordered", 900.0, DATA / "Li6PS5Cl-l08.mtp", DATA / "Li6PS5Cl-l08.als", s,
                       tmp_path_factory.mktemp("explore"), MPI.COMM_SELF, seed=11)


def test_runs_its_full_length_below_the_thresholds(exploration):
    ex = exploration
    assert ex.completed and ex.steps_done == 1000 and not ex.candidates, (ex.error, ex.broke, len(ex.candidates))
    assert [a.info["step"] for a in ex.snapshots] == list(range(0, 1001, 100))


def test_snapshots_are_unwrapped_consistently_and_continuously(exploration):
    snaps = exploration.snapshots
    for a in snaps:
        d = a.arrays["unwrapped"] - a.positions                 # box origin + image x cell, per atom
        n = (d - d[0]) @ np.linalg.inv(a.cell.array)
        np.testing.assert_allclose(n, np.round(n), atol=1e-8)
    u = np.array([a.arrays["unwrapped"] for a in snaps])
    assert np.abs(np.diff(u, axis=0)).max() < 3.0               # 0.1 ps apart: no jump of a cell length
    li = np.array(snaps[0].get_chemical_symbols()) == "Li"
    msd = ((u[-1] - u[0]) ** 2).sum(axis=1)
    assert msd[li].mean() > 2.0 * msd[~li].mean()                # Li moves, the framework vibrates
    wrapped_moved = np.abs(np.diff([a.positions for a in snaps], axis=0)).max()
    assert wrapped_moved > 5.0                                   # atoms crossed the box: the checks above are not vacuous

