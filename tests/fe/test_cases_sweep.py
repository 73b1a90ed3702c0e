"""``fe_sweep`` per case, end to end on tiny 2-D laminates (planner -> mesh task -> structures
task -> fe_sweep with Arrhenius results laid out as ``run_arrhenius`` writes them): explicit laws
are honoured over MD, mixed GB models on the faces, provenance, crossover, carrier density.
Needs ``PolycrystalSolver`` (argyro_run/fe/polycrystal.py, issue 14 part A) for both GB models."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from argyro_run._stack import MPI
from argyro_run.config import config_from_dict
from argyro_run.fe.tasks import arrhenius_D, nernst_einstein_mS_per_cm, run_fe_sweep
from argyro_run.microstructure.tasks import run_mesh
from argyro_run.plan import build_plan
from argyro_run.results import Result
from argyro_run.structures.tasks import run_build_structures

G5 = {"sigma": 5, "plane": [3, 1, 0], "axis": [0, 0, 1]}
G3 = {"sigma": 3, "plane": [-1, 1, 1], "axis": [1, 1, 0]}
BULK = (1e-7, 0.30)
DOC = {"materials": [{"name": "L", "variants": ["ordered"], "lattice_constant_A": 10.0, "grain_boundaries": [G5, G3]}],
       "potential": {"file": "x.mtp"}, "active_learning": {"enabled": False},
       "md": {"temperatures_K": [600.0, 700.0], "production_ps": 20.0},
       "microstructure": {"kind": "laminate", "n_grains": 4, "dimension": 2, "gb_thickness_nm": 1.0,
                          "grain_sizes_nm": [10.0, 40.0], "mesh_size_fraction": 0.25},
       "fe": {"temperatures_K": [300.0, 400.0, 500.0], "solver_rtol": 1e-12}}


def _arrhenius(laws: dict) -> Result:
    """``arrhenius/L`` with ``structures/<name>/<set>/{D0_m2_per_s, Ea_eV}`` for the given laws."""
    r = Result()
    for (name, kind), (d0, ea) in laws.items():
        r.add(f"structures/{name}/{kind}/D0_m2_per_s", d0, "m^2/s")
        r.add(f"structures/{name}/{kind}/Ea_eV", ea, "eV")
    return r


def _run(tmp_path, gb_model, fe=None, laws=None, case=None):
    doc = copy.deepcopy(DOC)
    doc["microstructure"]["gb_model"] = gb_model
    if gb_model == "layer":  # the GB layer's element size is a layer-model key (an input error with interfaces)
        doc["microstructure"]["mesh_size_gb_fraction"] = 0.5
    doc["fe"].update(fe or {})
    if case:
        doc["fe"]["cases"] = [case]
    plan = build_plan(config_from_dict(doc))
    (task,) = [t for t in plan.tasks if t.kind == "fe_sweep"]
    deps = {}
    for d in task.deps:
        t = plan[d]
        if t.kind == "mesh":
            deps[d] = run_mesh(t.params, {}, MPI.COMM_WORLD, tmp_path / d.replace("/", "_"))
        elif t.kind == "build_structures":
            deps[d] = run_build_structures(t.params, {}, MPI.COMM_WORLD, tmp_path)
        elif t.kind == "arrhenius":
            deps[d] = _arrhenius(laws or {})
    return task, run_fe_sweep(task.params, deps, MPI.COMM_WORLD, tmp_path / "fe")


FAST_GB = {("ordered", "tracer"): BULK, ("gb_sigma5_310", "gb_parallel"): (1e-6, 0.15),
           ("gb_sigma5_310", "gb_perpendicular"): (1e-8, 0.45), ("gb_sigma3_-111", "gb_parallel"): (3e-7, 0.2),
           ("gb_sigma3_-111", "gb_perpendicular"): (1e-9, 0.5)}


@pytest.mark.parametrize("gb_model", ["layer", "interface"])
def test_explicit_gb_laws_are_honoured_over_md(tmp_path, gb_model):
    """The MD says the GBs are fast; fe.gb_* say they equal the bulk: D_eff must be D_bulk I
    (the old code replaced explicit laws by bulk values, now they are what the solve uses)."""
    law = {"D0_m2_per_s": BULK[0], "Ea_eV": BULK[1]}
    task, r = _run(tmp_path, gb_model, fe={"gb_parallel": law, "gb_perpendicular": law}, laws=FAST_GB)
    T = np.array(DOC["fe"]["temperatures_K"])
    Db = arrhenius_D(*BULK, T)
    De = r.get("D_eff_m2_per_s")
    assert De.shape == (3, 2, 2, 2)
    np.testing.assert_allclose(De, np.broadcast_to(Db[:, None, None, None] * np.eye(2), De.shape), rtol=1e-8,
                               atol=1e-8 * Db.max())
    np.testing.assert_allclose(r.get("D_eff_over_D_bulk"), 1.0, rtol=1e-8)
    np.testing.assert_allclose(r.get("Ea_app_eV"), BULK[1], rtol=1e-8)
    np.testing.assert_allclose(r.get("crossover_grain_size_nm"), 10.0)
    src = {k: str(np.asarray(r.get(f"inputs/{k}/source")).item()) for k in ("bulk", "gb_parallel", "gb_perpendicular")}
    assert src == {"bulk": "md: arrhenius/L structures/ordered/tracer",
                   "gb_parallel": "input: fe.gb_parallel", "gb_perpendicular": "input: fe.gb_perpendicular"}
    # carrier density: 24 Li per (1.0 nm)^3 cell of the case's bulk structure, charge 1
    n = r.get_attrs("sigma_eff_mS_per_cm")["carrier_density_per_nm3"]
    assert n == pytest.approx(24.0, rel=1e-12)
    np.testing.assert_allclose(r.get("sigma_eff_mS_per_cm")[:, 0],
                               nernst_einstein_mS_per_cm(Db, temperature_K=T, carrier_density_per_nm3=24.0), rtol=1e-8)
    assert "gb_faces/model_index" not in r  # both GB kinds given: no GB model is used


@pytest.mark.parametrize("gb_model", ["layer", "interface"])
@pytest.mark.parametrize("fractions", [[0.5, 0.5], [0.75, 0.25]])
def test_mixed_gb_models_equal_their_laminate_means(tmp_path, gb_model, fractions):
    """Laminate, GB faces in series across and in parallel along the layers: faces of models A and
    B in fractions (fa, fb) act like one model with the arithmetic mean of D_par and the harmonic
    mean of D_perp (temperature-independent laws, so the means are Arrhenius laws with Ea = 0)."""
    a, b = {"par": 2e-8, "perp": 1e-10}, {"par": 6e-8, "perp": 4e-11}
    laws = {("ordered", "tracer"): (1e-9, 0.0), ("gb_sigma5_310", "gb_parallel"): (a["par"], 0.0),
            ("gb_sigma5_310", "gb_perpendicular"): (a["perp"], 0.0),
            ("gb_sigma3_-111", "gb_parallel"): (b["par"], 0.0), ("gb_sigma3_-111", "gb_perpendicular"): (b["perp"], 0.0)}
    case = {"name": "mix", "bulk": "L/ordered", "gb": ["L/gb_sigma5_310", "L/gb_sigma3_-111"],
            "gb_fractions": fractions, "gb_seed": 7}
    task, mixed = _run(tmp_path / "m", gb_model, laws=laws, case=case)
    fa, fb = fractions
    par = fa * a["par"] + fb * b["par"]
    perp = 1.0 / (fa / a["perp"] + fb / b["perp"])
    uniform = {"gb_parallel": {"D0_m2_per_s": par, "Ea_eV": 0.0},
               "gb_perpendicular": {"D0_m2_per_s": perp, "Ea_eV": 0.0}}
    _, ref = _run(tmp_path / "u", gb_model, fe=uniform, laws=laws, case=case)
    np.testing.assert_allclose(mixed.get("D_eff_m2_per_s"), ref.get("D_eff_m2_per_s"), rtol=1e-8, atol=1e-22)
    idx = mixed.get("gb_faces/model_index")
    assert len(idx) == 4 and np.bincount(idx, minlength=2).tolist() == [round(4 * fa), round(4 * fb)]
    assert [str(x) for x in mixed.get("gb_faces/models")] == ["L/gb_sigma5_310", "L/gb_sigma3_-111"]
    assert mixed.get("inputs/gb_parallel/D_m2_per_s").shape == (2, 3)  # per model and temperature
    # the assignment is seeded: the same seed gives the same faces
    _, again = _run(tmp_path / "a", gb_model, laws=laws, case=case)
    np.testing.assert_array_equal(again.get("gb_faces/model_index"), idx)
    if gb_model == "layer":  # resolved layers: arithmetic / harmonic means of the volume fractions
        d = np.array(DOC["microstructure"]["grain_sizes_nm"])
        f = 1.0 / d
        along = f * par + (1 - f) * 1e-9
        across = 1.0 / (f / perp + (1 - f) / 1e-9)
        np.testing.assert_allclose(mixed.get("D_eff_m2_per_s")[0, :, 0, 0], along, rtol=1e-8)
        np.testing.assert_allclose(mixed.get("D_eff_m2_per_s")[0, :, 1, 1], across, rtol=1e-8)


def test_missing_md_fit_is_a_user_error(tmp_path):
    from argyro_run.errors import UserError

    laws = dict(FAST_GB)
    del laws[("gb_sigma3_-111", "gb_perpendicular")]
    with pytest.raises(UserError) as exc:
        _run(tmp_path, "layer", laws=laws)
    assert "structures/gb_sigma3_-111/gb_perpendicular" in str(exc.value)
