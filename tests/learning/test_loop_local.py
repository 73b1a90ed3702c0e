"""Local learning of a GB cell bigger than ``max_reference_atoms``: cut-outs around the chosen
atoms, core-only force weights, no energy; with a short-ranged reference the core forces of a
cut-out are exactly those of the whole cell."""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.learning.dataset import label_images, training_set_from_result, training_set_to_result
from argyro_run.learning.reference import ReferenceSpec
from argyro_run.learning.select import Pick, reference_jobs
from argyro_run.learning.settings import LoopSettings
from argyro_run.results import Result

LJ = ReferenceSpec(calculator="ase.calculators.lj:LennardJones",
                   kwargs={"sigma": 1.6, "epsilon": 0.01, "rc": 4.5}, timeout_s=120, max_retries=0)


@pytest.fixture(scope="module")
def gb_cell():
    from argyro_run.structures import argyrodite
    from argyro_run.structures.gb import csl_bicrystal

    return csl_bicrystal(argyrodite("Cl"), sigma=5, plane=[3, 1, 0], axis=[0, 0, 1])


@pytest.mark.parametrize("mode", ["periodic", "cluster"])
def test_cut_outs_of_a_large_gb_cell(gb_cell, tmp_path, mode):
    gb = gb_cell
    settings = LoopSettings.of(4, ["Li", "P", "S", "Cl"], max_reference_atoms=60, local_radius_A=7.0,
                            max_dist_A=5.0, local_mode=mode, vacuum_A=6.0)
    assert len(gb) > settings.max_reference_atoms
    # centres: the three atoms nearest a GB plane
    centres = [int(i) for i in np.argsort(gb.arrays["gb_distance_A"])[:3]]
    picks = [Pick(atoms=gb, center=c, grade=5.0, origin=f"gb/atom{c}") for c in centres]
    jobs, full = reference_jobs(picks, settings, iteration=0)
    assert full == len(gb)                     # one parent cell, counted once
    assert len(jobs) == 3
    for job, c in zip(jobs, centres):
        assert len(job) < len(gb)
        assert job.info["energy_weight"] == 0.0
        w = job.arrays["force_weight"]
        assert set(np.unique(w)) == {0.0, 1.0}
        # the centre is core; the core is exactly the parent's atoms within radius - cutoff
        par = job.arrays["parent_index"]
        assert c in par[w == 1.0]
        from ase.geometry import get_distances

        _, d = get_distances(gb.positions[c], gb.positions, cell=gb.cell, pbc=True)
        assert sorted(par[w == 1.0]) == sorted(np.flatnonzero(d[0] <= 2.0 + 1e-9))
        # charge neutral: Li+ P5+ S2- Cl-
        q = {"Li": 1, "P": 5, "S": -2, "Cl": -1}
        assert sum(q[s] for s in job.get_chemical_symbols()) == 0
        assert job.pbc.all() == (mode == "periodic")

    images, st = label_images(jobs, LJ, tmp_path / "ref")
    assert st.failed == 0 and st.atoms == sum(len(j) for j in jobs) < 3 * len(gb)
    ref = gb.copy()
    from ase.calculators.lj import LennardJones

    ref.calc = LennardJones(**LJ.kwargs)
    f_full = ref.get_forces()
    for im in images:
        w = im.arrays["force_weight"] == 1.0
        par = im.arrays["parent_index"]
        # core forces are the whole cell's (every neighbour within the cutoff is present) ...
        assert np.abs(im.get_forces()[w] - f_full[par[w]]).max() < 1e-9
        # ... the rim's are not (that is why they get weight 0)
        assert np.abs(im.get_forces()[~w] - f_full[par[~w]]).max() > 1e-3
    # weights survive the archive round trip
    r = Result()
    training_set_to_result(r, "ts", images)
    back = training_set_from_result(r, "ts")
    assert all(b.info["energy_weight"] == 0.0 for b in back)
    assert all(np.array_equal(b.arrays["force_weight"], a.arrays["force_weight"]) for a, b in zip(images, back))


def test_small_cells_are_labelled_whole(tmp_path):
    from argyro_run.structures import argyrodite

    a = argyrodite("Cl")
    a.info["origin"] = "bulk/T600/step10"
    settings = LoopSettings.of(4, ["Li", "P", "S", "Cl"], max_reference_atoms=60)
    jobs, full = reference_jobs([Pick(atoms=a, center=None, grade=3.0, origin="bulk/T600/step10")], settings, 2)
    assert full == 52 and len(jobs) == 1 and len(jobs[0]) == 52
    assert "force_weight" not in jobs[0].arrays and "energy_weight" not in jobs[0].info
    assert jobs[0].info["origin"] == "level4/it2/bulk/T600/step10"
    assert np.array_equal(jobs[0].positions, a.positions)


def test_local_radius_is_at_least_cutoff_plus_buffer():
    s = LoopSettings.of(4, ["Li"], local_radius_A=5.0, max_dist_A=5.0, local_buffer_A=1.0)
    assert s.local_radius() == 6.0
    s = LoopSettings.of(4, ["Li"], local_radius_A=8.0, max_dist_A=5.0)
    assert s.local_radius() == 8.0
