"""``run_initial_data``: rattled/strained copies labelled with tblite, serial and over 2 ranks."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from argyro_run.learning.dataset import training_set_from_result, training_set_to_result
from argyro_run.results import Result, add_atoms
from tests._support.env import REPO, run_mpi

REF = {"calculator": "tblite", "method": "GFN1-xTB", "electronic_temperature_K": 300.0, "kwargs": {},
       "command": None, "timeout_s": 300.0, "max_retries": 1,
       "fallback": {"electronic_temperature_K": 1000.0, "kwargs": {}}}


def _deps():
    from argyro_run.structures import argyrodite

    bulk = argyrodite("Cl")
    gb = bulk.repeat((1, 1, 2))
    gb.new_array("gb_distance_A", np.abs(gb.positions[:, 2] - gb.cell[2, 2] / 2))
    gb.new_array("grain_id", (gb.positions[:, 2] > gb.cell[2, 2] / 2).astype(np.int64))
    res = Result()
    add_atoms(res, "ordered", bulk)
    add_atoms(res, "gb_test", gb)
    return {"structures/LPSCl": res}, bulk


def _params(n=2, training_set=None):
    return {"reference": REF, "n_rattled": n, "rattle_amplitude_A": 0.05, "strain_amplitude": 0.02,
            "training_set": training_set, "seed": 11}


def test_initial_data_serial(tmp_path):
    from ase.io import write
    from tblite.ase import TBLite

    from argyro_run._stack import MPI
    from argyro_run.learning.tasks import run_initial_data

    deps, bulk = _deps()
    # an extra labelled file: the ideal cell with a made-up but consistent label
    extra = bulk.copy()
    from ase.calculators.singlepoint import SinglePointCalculator

    extra.calc = SinglePointCalculator(extra, energy=-1.0, forces=np.zeros((len(extra), 3)))
    write(tmp_path / "extra.extxyz", [extra])
    res = run_initial_data(_params(2, str(tmp_path / "extra.extxyz")), deps, MPI.COMM_SELF, tmp_path / "w")
    images = training_set_from_result(res, "training_set")
    # the GB cell is skipped (learned locally), the file's image comes first
    assert len(images) == 3 and res.get_attrs("")["n_images"] == 3
    assert images[0].get_potential_energy() == -1.0
    assert [a.info["origin"] for a in images[1:]] == ["LPSCl/ordered/rattle0", "LPSCl/ordered/rattle1"]
    for a in images[1:]:
        assert len(a) == 52 and a.calc.results["stress"].shape == (6,)
        # rattled and strained: not the ideal cell, but close to it
        d = a.get_scaled_positions() - bulk.get_scaled_positions()
        d -= np.round(d)
        assert 0.01 < np.abs(d @ bulk.cell[:]).max() < 0.5
        assert 0 < np.abs(a.cell[:] - bulk.cell[:]).max() <= 0.02 * bulk.cell[0, 0] * 1.01
    # labels agree with an independent in-process tblite calculation
    a = images[1].copy()
    a.calc = TBLite(method="GFN1-xTB", electronic_temperature=300.0, verbosity=0)
    assert abs(a.get_potential_energy() - images[1].get_potential_energy()) < 1e-6
    assert np.abs(a.get_forces() - images[1].get_forces()).max() < 1e-5
    # cost bookkeeping
    assert int(res.get("labels/reference_calls")) == 2 and int(res.get("labels/reference_atoms")) == 104
    # rerun: everything from the cache
    res2 = run_initial_data(_params(2), deps, MPI.COMM_SELF, tmp_path / "w")
    assert int(res2.get("labels/reference_computed")) == 0
    e1 = [x.get_potential_energy() for x in images[1:]]
    e2 = [x.get_potential_energy() for x in training_set_from_result(res2, "training_set")]
    assert np.allclose(e1, e2, atol=0, rtol=0)


def test_training_set_roundtrip():
    from ase.calculators.singlepoint import SinglePointCalculator

    from argyro_run.structures import argyrodite

    rng = np.random.default_rng(0)
    a = argyrodite("Cl")
    a.calc = SinglePointCalculator(a, energy=-3.0, forces=rng.normal(size=(52, 3)), stress=rng.normal(size=6))
    b = a[:7].copy()
    b.pbc = False
    b.calc = SinglePointCalculator(b, energy=0.5, forces=rng.normal(size=(7, 3)))
    b.info.update(energy_weight=0.0, origin="cut")
    b.arrays["force_weight"] = np.array([1, 1, 0, 0, 0, 0, 0], float)
    r = Result()
    training_set_to_result(r, "ts", [a, b])
    r = pickle.loads(pickle.dumps(r))
    a2, b2 = training_set_from_result(r, "ts")
    assert np.array_equal(a2.get_forces(), a.get_forces()) and np.array_equal(a2.calc.results["stress"], a.calc.results["stress"])
    assert "stress" not in b2.calc.results and not b2.pbc.any()
    assert b2.info["energy_weight"] == 0.0 and np.array_equal(b2.arrays["force_weight"], b.arrays["force_weight"])
    assert "force_weight" not in a2.arrays and "energy_weight" not in a2.info


@pytest.mark.slow
def test_initial_data_two_ranks_matches_serial(tmp_path):
    from argyro_run._stack import MPI
    from argyro_run.learning.tasks import run_initial_data

    p = run_mpi(2, ["-m", "tests.learning._mpi_initial_data", str(tmp_path / "mpi"), str(tmp_path / "res.pkl")],
                timeout=300, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    par = pickle.loads((tmp_path / "res.pkl").read_bytes())
    ser = run_initial_data(_params(3), _deps()[0], MPI.COMM_SELF, tmp_path / "ser")
    # both ranks computed (round robin), the serial run recomputed everything
    assert int(par.get("labels/reference_computed")) == 3 == int(ser.get("labels/reference_computed"))
    for x, y in zip(training_set_from_result(par, "training_set"), training_set_from_result(ser, "training_set")):
        assert np.array_equal(x.positions, y.positions)
        assert abs(x.get_potential_energy() - y.get_potential_energy()) < 1e-8
        assert np.abs(x.get_forces() - y.get_forces()).max() < 1e-7


def test_initial_data_from_planned_unit_cells(tmp_path):
    """The planner's ``cells`` (Li6PS5Cl template: 2x2x2 MD supercells) give 52-atom rattled copies
    of the ordered and the disordered unit cell, labelled with tblite; never the 416-atom cells."""
    import tomllib

    from argyro_run._stack import MPI
    from argyro_run.config import config_from_dict
    from argyro_run.learning.tasks import run_initial_data
    from argyro_run.plan import build_plan

    doc = tomllib.loads((REPO / "inputs" / "Li6PS5Cl.toml").read_text())
    doc["active_learning"]["n_rattled"] = 1
    doc["reference"]["timeout_s"] = 300.0
    task = build_plan(config_from_dict(doc))["learning/initial_data"]
    res = run_initial_data({**task.params, "input_dir": str(REPO / "inputs")}, {}, MPI.COMM_SELF, tmp_path)
    images = training_set_from_result(res, "training_set")
    assert [a.info["origin"] for a in images] == ["LPSCl/ordered/rattle0", "LPSCl/disordered/rattle0"]
    assert [len(a) for a in images] == [52, 52] and int(res.get("labels/reference_atoms")) == 104
    for a in images:
        assert a.get_chemical_formula() == "Cl4Li24P4S20"
        assert np.all(np.isfinite(a.get_forces())) and a.cell.lengths()[0] == pytest.approx(9.86, rel=0.05)
    assert res.get_attrs("")["cell_atoms"] == "LPSCl/ordered:52,LPSCl/disordered:52"


def test_initial_data_refuses_cells_above_max_reference_atoms(tmp_path):
    from argyro_run.errors import UserError
    from argyro_run.learning.tasks import run_initial_data
    from argyro_run.structures import argyrodite

    res = Result()
    add_atoms(res, "ordered", argyrodite("Cl").repeat((2, 2, 2)))
    with pytest.raises(UserError, match=r"initial_cell_repeat.*416 atoms.*max_reference_atoms \(200\)"):
        run_initial_data({**_params(2), "max_reference_atoms": 200}, {"structures/L": res}, None, tmp_path)
    assert not (tmp_path / "reference").exists()


def test_a_reference_that_fails_on_a_material_is_named(tmp_path):
    """tblite's GFN1-xTB gives hundreds of eV/A on the (barely rattled) Li6PS5Br cell and a few eV/A
    on Li6PS5Cl: the force limit keeps every Br copy out, and the task says the reference is wrong for
    LPSBr (not that the rattle is too large), naming the key to change."""
    from argyro_run.errors import UserError
    from argyro_run.learning.tasks import run_initial_data
    from argyro_run.structures import argyrodite

    deps = {}
    for hal in ("Cl", "Br"):
        res = Result()
        add_atoms(res, "ordered", argyrodite(hal))
        deps[f"structures/LPS{hal}"] = res
    with pytest.raises(UserError) as e:
        run_initial_data({**_params(1), "max_force_eV_per_A": 30.0}, deps, None, tmp_path)
    msg = str(e.value)
    assert msg.startswith("reference.calculator: every labelled copy of LPSBr/ordered (1,")
    assert "LPSCl" not in msg and "'tblite' is not usable" in msg
    worst = float(msg.split("(largest ")[1].split(" eV/A")[0])
    assert worst > 100.0


def test_a_cfg_training_set_from_an_export_keeps_elements_and_weights(tmp_path):
    """[potential] training_set = an MLIP .cfg (e.g. `argyro-run mtp export`), n_rattled = 0: the planned
    initial-data task gives its images the MTP species' elements (a .cfg names atoms by type only; they
    came back as 'X' and the learning failed) and keeps a cut-out's energy and force weights."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from argyro_run._stack import MPI
    from argyro_run.config import config_from_dict
    from argyro_run.learning.tasks import run_initial_data
    from argyro_run.plan import build_plan
    from argyro_run.potentials.cfg import write_cfg

    deps, bulk = _deps()
    cut = bulk.copy()
    cut.calc = SinglePointCalculator(cut, energy=-1.0, forces=np.ones((len(cut), 3)))
    cut.info["energy_weight"] = 0.0
    cut.arrays["force_weight"] = (np.arange(len(cut)) < 10).astype(float)
    species = ["Li", "P", "S", "Cl"]
    write_cfg(tmp_path / "export.cfg", [cut], species=species)
    cfg = config_from_dict({"materials": [{"name": "LPSCl", "formula": "Li6PS5Cl", "halide": "Cl"}],
                            "potential": {"species": species, "training_set": str(tmp_path / "export.cfg")},
                            "active_learning": {"n_rattled": 0}, "reference": REF})
    task = build_plan(cfg)["learning/initial_data"]
    res = run_initial_data(task.params, deps, MPI.COMM_SELF, tmp_path / "w")
    (img,) = training_set_from_result(res, "training_set")
    assert img.get_chemical_symbols() == bulk.get_chemical_symbols()
    assert img.info["energy_weight"] == 0.0
    np.testing.assert_array_equal(img.arrays["force_weight"], cut.arrays["force_weight"])
    # without a training set the task's params (and so the hash of archives learned before) are unchanged
    plain = build_plan(config_from_dict({"materials": [{"name": "LPSCl"}], "reference": REF}))["learning/initial_data"]
    assert "potential" not in plain.params
