"""The closed loop for real: Li6PS5Cl (52 atoms) with tblite, a low MTP level, LAMMPS + the
MTP plugin as explorer; and a GB cell above ``max_reference_atoms`` learned locally."""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.learning.dataset import label_images, training_set_from_result
from argyro_run.results import Result, add_atoms

REF = {"calculator": "tblite", "method": "GFN1-xTB", "electronic_temperature_K": 300.0, "kwargs": {},
       "command": None, "timeout_s": 300.0, "max_retries": 1,
       "fallback": {"electronic_temperature_K": 1000.0, "kwargs": {}}}
SPECIES = ["Li", "P", "S", "Cl"]


def _potential(level):
    return {"level": level, "species": SPECIES, "max_dist_A": 5.0, "min_dist_A": 1.6, "radial_basis_size": 8,
            "energy_weight": 1.0, "force_weight": 0.01, "stress_weight": 0.001, "file": None, "training_set": None}


def _al_params(level, *, max_iterations=4, max_selected=4, exploration_ps=0.5, temps=(900.0,), max_ref=200,
               gamma_select=2.0, gamma_break=10.0, seed=3):
    return {"step": {"level": level, "gamma_select": gamma_select, "gamma_break": gamma_break,
                     "exploration_ps": exploration_ps, "temperatures_K": list(temps)},
            "local_radius_A": 7.0, "max_reference_atoms": max_ref, "local_mode": "periodic", "vacuum_A": 6.0,
            "max_iterations": max_iterations, "max_selected_per_iteration": max_selected, "converged_fraction": 0.0,
            "reference": REF, "potential": _potential(level), "seed": seed}


def _structures(**named):
    r = Result()
    for k, a in named.items():
        add_atoms(r, k, a)
    return r


def _require_stack():
    # the LAMMPS plugin is compiled on first use; a build failure fails the test (never skipped)
    from argyro_run.potentials.plugin import plugin_path

    plugin_path(build=True)


@pytest.mark.slow
def test_loop_li6ps5cl_tblite(tmp_path):
    """Errors on the configurations MD finds fall with the iterations, and every exploration
    ends up running its full length below gamma_select."""
    _require_stack()
    from argyro_run._stack import MPI
    from argyro_run.learning.loop import metrics
    from argyro_run.learning.tasks import run_active_learning, run_initial_data
    from argyro_run.potentials.mtp import parse_mtp
    from argyro_run.structures import argyrodite

    bulk = argyrodite("Cl")
    deps = {"structures/LPSCl": _structures(ordered=bulk)}
    init = run_initial_data({"reference": REF, "n_rattled": 6, "rattle_amplitude_A": 0.05, "strain_amplitude": 0.02,
                             "training_set": None, "seed": 5}, deps, MPI.COMM_SELF, tmp_path / "init")
    params = {**_al_params(4), "converged_rounds": 2}
    res = run_active_learning(params, {"learning/initial_data": init, **deps}, MPI.COMM_SELF, tmp_path / "al")
    attrs = res.get_attrs("")
    n_it = attrs["n_iterations"]
    assert attrs["converged"], attrs["reason"]
    assert attrs["reason"].endswith("in 2 consecutive rounds"), attrs["reason"]
    # converged_rounds = 2: the last two rounds explored clean (new velocities), the first of them
    # labelled and refitted nothing, and neither counted against max_iterations
    assert 3 <= n_it <= params["max_iterations"] + 2
    for k in (n_it - 2, n_it - 1):
        assert int(res.get(f"iterations/{k}/n_need_selection")) == 0
        assert int(res.get(f"iterations/{k}/n_completed")) == 1
    assert int(res.get(f"iterations/{n_it - 2}/n_selected")) == 0 and int(res.get(f"iterations/{n_it - 2}/n_added")) == 0
    # the rattled data alone is not enough: the first exploration extrapolates ...
    assert int(res.get("iterations/0/n_need_selection")) == 1
    # extrapolating (graded above gamma_select) or collapsing (candidates with a pair below min_dist_A,
    # learned from the snapshots before the collapse); either way something is labelled
    g0, unphysical = float(res.get("iterations/0/max_grades")[0]), int(res.get("iterations/0/n_unphysical"))
    assert g0 > 2.0 or (unphysical > 0 and int(res.get("iterations/0/n_precursor_picks")) > 0), (g0, unphysical)
    assert int(res.get("iterations/0/n_selected")) >= 1
    # ... the last one runs the full length below gamma_select (nothing dumped)
    last = f"iterations/{n_it - 1}"
    assert int(res.get(f"{last}/n_completed")) == 1 and int(res.get(f"{last}/n_need_selection")) == 0
    assert int(res.get(f"{last}/md_steps")) == 500
    assert float(res.get(f"{last}/max_grades")[0]) <= 2.0
    # every round before the last two either needed selection and labelled something, with every
    # training neighbourhood inside the new active set (MaxVol: grade <= 1.001), or explored clean,
    # labelled nothing and was followed by a round that needed selection (the clean count restarts)
    for k in range(n_it - 2):
        p = f"iterations/{k}"
        if int(res.get(f"{p}/n_need_selection")):
            assert int(res.get(f"{p}/n_added")) >= 1, k
            assert float(res.get(f"{p}/max_grade_training")) <= 1.001 + 1e-6
        else:
            assert int(res.get(f"{p}/n_added")) == 0 and float(res.get(f"{p}/train_wall_s")) == 0, k
            assert int(res.get(f"iterations/{k + 1}/n_need_selection")) >= 1, k
    # errors fall: the final potential predicts MD configurations it never saw better than
    # the potential trained on rattled data only (fresh tblite labels of held-out snapshots)
    images = training_set_from_result(res, "training_set")
    assert len(images) == 6 + sum(int(res.get(f"iterations/{k}/n_added")) for k in range(n_it))
    # every refit's cost record: the atoms it fitted (the initial data and every round's additions so
    # far), its L-BFGS iterations within the loop's limit, at least one evaluation each; none without a refit
    n_images = 6
    for k in range(n_it):
        p = f"iterations/{k}"
        n_images += int(res.get(f"{p}/n_added"))
        refitted = float(res.get(f"{p}/train_wall_s")) > 0
        assert int(res.get(f"{p}/train_atoms")) == (sum(len(a) for a in images[:n_images]) if refitted else 0)
        its, evals = int(res.get(f"{p}/train_lbfgs_iterations")), int(res.get(f"{p}/train_evaluations"))
        assert (1 <= its <= 100 and evals >= its) if refitted else its == evals == 0, (k, its, evals)
        # the round's phases are timed apart and add up to no more than the round; a refitted round
        # labelled, refitted, rebuilt its active set and measured its errors
        phases = {ph: float(res.get(f"{p}/{ph}_wall_s")) for ph in ("select", "check", "label", "active_set", "metrics")}
        assert all(v >= 0 for v in phases.values()) and phases["select"] > 0, phases
        spent = sum(phases.values()) + float(res.get(f"{p}/explore_wall_s")) + float(res.get(f"{p}/train_wall_s"))
        assert spent <= float(res.get(f"{p}/wall_s")) + 1e-6, (k, phases)
        if refitted:
            assert min(phases["label"], phases["active_set"], phases["metrics"]) > 0, (k, phases)
    added = images[6:]
    final = parse_mtp(str(res.get("mtp/text").item() if res.get("mtp/text").shape == () else res.get("mtp/text")))
    first = _first_fit(params, init)
    held_out = _held_out_md(final, bulk, tmp_path)
    e_first = metrics(first, held_out)["rmse_force_eV_per_A"]
    e_final = metrics(final, held_out)["rmse_force_eV_per_A"]
    assert e_final < e_first, (e_first, e_final)
    # the validation error (old potential on new data) is above the retrained one on it
    v0 = float(res.get("iterations/0/validation/rmse_force_eV_per_A"))
    assert metrics(final, added)["rmse_force_eV_per_A"] < v0
    assert np.isfinite(float(res.get("initial_train/rmse_energy_meV_per_atom")))


def _first_fit(params, init):
    from argyro_run.learning.loop import fit, starting_point
    from argyro_run.learning.settings import LoopSettings

    s = LoopSettings.from_params(params)
    images = training_set_from_result(init, "training_set")
    return fit(starting_point(None, s, images), images, s, iteration=-1)


def _held_out_md(mtp, bulk, tmp_path):
    """Three snapshots of 900 K MD with the final MTP (ASE, independent of LAMMPS), tblite-labelled."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from argyro_run.learning.dataset import spec_from_params
    from argyro_run.potentials.calculator import MTPCalculator

    a = bulk.copy()
    a.calc = MTPCalculator(mtp)
    MaxwellBoltzmannDistribution(a, temperature_K=900, rng=np.random.default_rng(7))
    dyn = Langevin(a, 1.0 * units.fs, temperature_K=900, friction=0.02, rng=np.random.default_rng(8))
    snaps = []
    for _ in range(3):
        dyn.run(40)
        s = a.copy()
        s.calc = None
        snaps.append(s)
    images, st = label_images(snaps, spec_from_params(REF), tmp_path / "held")
    assert st.failed == 0
    return images


@pytest.mark.slow
def test_loop_gb_cell_learned_locally(tmp_path):
    """A 148-atom GB cell with max_reference_atoms = 60 goes through local learning."""
    _require_stack()
    from argyro_run._stack import MPI
    from argyro_run.learning.tasks import run_active_learning, run_initial_data
    from argyro_run.structures import argyrodite
    from argyro_run.structures.gb import csl_bicrystal

    bulk = argyrodite("Cl")
    gb = csl_bicrystal(bulk, sigma=5, plane=[3, 1, 0], axis=[0, 0, 1])
    assert len(gb) > 60
    deps = {"structures/LPSCl": _structures(ordered=bulk, gb_sigma5_310=gb)}
    init = run_initial_data({"reference": REF, "n_rattled": 4, "rattle_amplitude_A": 0.05, "strain_amplitude": 0.02,
                             "training_set": None, "seed": 5}, deps, MPI.COMM_SELF, tmp_path / "init")
    assert len(training_set_from_result(init, "training_set")) == 4   # bulk only
    params = _al_params(4, max_iterations=1, max_selected=2, exploration_ps=0.2, temps=(900.0,), max_ref=60)
    # the loop explores the GB cell only: were the bulk cell explored too, its pick (whole) may
    # cover the GB cell's bulk-like extrapolating neighbourhoods, and whether any GB neighbourhood
    # is left above gamma_select would depend on the seeds of the initial data
    gb_only = {"structures/LPSCl": _structures(gb_sigma5_310=gb)}
    res = run_active_learning(params, {"learning/initial_data": init, **gb_only}, MPI.COMM_SELF, tmp_path / "al")
    n_local = int(res.get("iterations/0/n_local"))
    assert n_local >= 1, res.get_attrs("")
    images = training_set_from_result(res, "training_set")
    cut = [a for a in images if a.info.get("energy_weight", 1.0) == 0.0]
    assert len(cut) >= 1
    for a in cut:
        w = a.arrays["force_weight"]
        assert 1 <= w.sum() < len(a) <= 120 and set(np.unique(w)) == {0.0, 1.0}
    # each cut-out is cheaper than the GB cell; the bookkeeping counts each parent cell (a GB
    # configuration of the exploration, named by the cut-outs' origin) once
    assert all(len(a) < len(gb) for a in cut)
    parents = {a.info["origin"].rsplit("/atom", 1)[0] for a in cut}
    assert len(parents) >= 1 and all("gb_sigma5_310" in o for o in parents), parents
    added = images[4:]
    whole = [a for a in added if a.info.get("energy_weight", 1.0) != 0.0]
    assert int(res.get("iterations/0/reference_atoms")) == sum(len(a) for a in added)
    assert int(res.get("iterations/0/full_cell_atoms")) == len(gb) * len(parents) + sum(len(a) for a in whole)
    assert res.get_attrs("")["n_iterations"] == 2


@pytest.mark.slow
def test_loop_two_ranks_same_result_on_every_rank(tmp_path):
    """Two exploration groups (one per temperature), distributed labels and training: every rank
    returns the same potential, active set and records."""
    _require_stack()
    import pickle

    from tests._support.env import REPO, run_mpi

    p = run_mpi(2, ["-m", "tests.learning._mpi_loop", str(tmp_path), str(tmp_path / "out.pkl")], timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    r0, r1 = pickle.loads((tmp_path / "out.pkl").read_bytes())
    assert r0[3] == 2                  # both temperatures explored
    assert r0[1:] == r1[1:]            # same potential, active set, counts
    assert r0[0]["converged"] == r1[0]["converged"] and r0[0]["reason"] == r1[0]["reason"]
    # the console reports every exploration once per round, also those of the group without world rank 0
    lines = [ln for ln in p.stderr.splitlines() if " explore LPSCl/ordered at " in ln]
    n800, n1000 = (sum(f" at {T} K:" in ln for ln in lines) for T in (800, 1000))
    assert n800 >= 1 and n800 == n1000 == r0[0]["n_iterations"], lines


@pytest.mark.slow
@pytest.mark.parametrize("ratio", [100.0, 1e-6])
def test_loop_drift_confirmed_by_the_reference(tmp_path, ratio):
    """A limit on the framework's motion below the thermal vibration makes every exploration
    'drift'. With a generous active_learning.confirmed_drift_ratio the reference confirms the
    drift (the MTP's forces there are as good as on its training set), so the round is clean and
    nothing is added; with a tiny one no drift is confirmed and the level cannot converge."""
    _require_stack()
    from argyro_run._stack import MPI
    from argyro_run.learning.tasks import run_active_learning, run_initial_data
    from argyro_run.structures import argyrodite

    deps = {"structures/LPSCl": _structures(ordered=argyrodite("Cl"))}
    init = run_initial_data({"reference": REF, "n_rattled": 6, "rattle_amplitude_A": 0.05, "strain_amplitude": 0.02,
                             "training_set": None, "seed": 5}, deps, MPI.COMM_SELF, tmp_path / "init")
    params = {**_al_params(4, max_iterations=3, temps=(600.0,)), "mobile_species": ["Li"],
              "max_host_displacement_A": 0.01, "confirmed_drift_ratio": ratio}
    res = run_active_learning(params, {"learning/initial_data": init, **deps}, MPI.COMM_SELF, tmp_path / "al")
    attrs = res.get_attrs("")
    n_it = attrs["n_iterations"]
    runs = [(int(res.get(f"iterations/{k}/n_completed")), int(res.get(f"iterations/{k}/n_drifted"))) for k in range(n_it)]
    assert all(d == 1 for c, d in runs if c == 1), runs        # 0.01 A: every full run's framework "moves"
    checked = [k for k in range(n_it) if len(res.get(f"iterations/{k}/drift_force_rmse"))]
    assert checked, "no round was drift-only: the drift was never checked against the reference"
    for k in checked:
        rmse, limit = float(res.get(f"iterations/{k}/drift_force_rmse")[0]), float(res.get(f"iterations/{k}/drift_force_limit"))
        assert 0 < rmse < 10 and limit > 0
        assert int(res.get(f"iterations/{k}/n_drift_confirmed")) == int(rmse <= limit)
        assert int(res.get(f"iterations/{k}/reference_atoms_computed")) == 52   # the drift snapshot, labelled whole
    if ratio > 1:
        assert attrs["converged"], attrs["reason"]
        last = f"iterations/{n_it - 1}"
        assert int(res.get(f"{last}/n_drift_confirmed")) == 1 and int(res.get(f"{last}/n_need_selection")) == 0
        assert int(res.get(f"{last}/n_added")) == 0
    else:
        assert not attrs["converged"] and "drifting framework" in attrs["reason"], attrs["reason"]
        # unconfirmed drift snapshots are learned: the refit's labels came from the check's cache
        assert len(checked) >= 2, checked
        for k in checked[:-1]:
            assert int(res.get(f"iterations/{k}/n_drift_picks")) == 1 and int(res.get(f"iterations/{k}/n_added")) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("ratio", [100.0, 1e-6])
def test_loop_reference_check_of_clean_explorations(tmp_path, ratio):
    """active_learning.check_frames: a run the grades call clean is labelled on a snapshot and
    compared with the reference. A generous check_force_ratio passes it (the level converges with
    nothing added); a tiny one fails every check, whose labels are then learned, and the level
    cannot converge. The limit is the ratio times the training RMSE the round started from, and a
    check fails above its significance bar (check.significant_force_bar)."""
    _require_stack()
    from argyro_run._stack import MPI
    from argyro_run.config.active_learning import CHECK_CONFIDENCE
    from argyro_run.learning.check import significant_force_bar
    from argyro_run.learning.tasks import run_active_learning, run_initial_data
    from argyro_run.structures import argyrodite

    deps = {"structures/LPSCl": _structures(ordered=argyrodite("Cl"))}
    init = run_initial_data({"reference": REF, "n_rattled": 6, "rattle_amplitude_A": 0.05, "strain_amplitude": 0.02,
                             "training_set": None, "seed": 5}, deps, MPI.COMM_SELF, tmp_path / "init")
    params = {**_al_params(4, max_iterations=3, temps=(600.0,)), "check_frames": 1, "check_force_ratio": ratio}
    res = run_active_learning(params, {"learning/initial_data": init, **deps}, MPI.COMM_SELF, tmp_path / "al")
    attrs = res.get_attrs("")
    n_it = attrs["n_iterations"]
    it = [f"iterations/{k}" for k in range(n_it)]
    checked = [p for p in it if int(res.get(f"{p}/n_checked"))]
    assert checked, "no exploration was clean: nothing was checked"
    for k, p in enumerate(it):
        clean_runs = int(res.get(f"{p}/n_completed")) == 1 and float(res.get(f"{p}/max_grades")[0]) <= 2.0
        assert int(res.get(f"{p}/n_checked")) == int(clean_runs), p          # exactly the runs the grades call clean
        if p not in checked:
            continue
        rmse, limit = float(res.get(f"{p}/check_force_rmse")[0]), float(res.get(f"{p}/check_force_limit"))
        before = f"iterations/{k - 1}/train" if k else "initial_train"
        assert limit == pytest.approx(ratio * float(res.get(f"{before}/rmse_force_eV_per_A")), rel=1e-12)
        assert 0 < rmse < 10
        # one 52-atom snapshot, every atom compared; it fails above the limit's significance bar
        n = int(res.get(f"{p}/check_force_components")[0])
        bar = float(res.get(f"{p}/check_force_bar")[0])
        assert n == 3 * 52
        assert bar == pytest.approx(significant_force_bar(limit, n, CHECK_CONFIDENCE), rel=1e-12) and bar > limit
        assert int(res.get(f"{p}/n_check_failed")) == int(rmse > bar)
        # the snapshot, labelled whole, once: a refit that learns it takes the label from the cache
        assert int(res.get(f"{p}/reference_atoms_computed")) == 52
    if ratio > 1:
        assert attrs["converged"], attrs["reason"]
        assert int(res.get(f"{it[-1]}/n_check_failed")) == 0 and int(res.get(f"{it[-1]}/n_added")) == 0
    else:
        assert not attrs["converged"], attrs["reason"]
        refits = [p for p in checked if p != it[-1]]
        assert refits, checked
        if int(res.get(f"{it[-1]}/n_check_failed")):
            assert "1 failed the reference check" in attrs["reason"], attrs["reason"]
        for p in refits:      # the failed check's frame was learned (from the check's cache: nothing recomputed)
            assert int(res.get(f"{p}/n_check_picks")) == 1 and int(res.get(f"{p}/n_added")) >= 1
